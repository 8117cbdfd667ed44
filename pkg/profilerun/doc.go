// Package profilerun runs `kubectl meshinsight profile`: it checks the user
// may do everything a run needs (SelfSubjectAccessReview per verb), finds
// Istio and the nodes to profile, renders the embedded manifests (package
// manifests) into an ephemeral namespace, waits for each node's agent to
// hand its profile back through a ConfigMap, validates it, and always
// deletes the namespace again (on success, failure, timeout and
// cancellation) unless asked to keep it.
//
// The package takes a kubernetes.Interface and a Config: it never sees
// cobra, and the clientset can be a fake in unit tests or the real test
// control plane in the integration suite.
package profilerun
