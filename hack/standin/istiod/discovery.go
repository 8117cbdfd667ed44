package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/netip"
	"strings"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	istiolisters "istio.io/client-go/pkg/listers/networking/v1"
	securitylisters "istio.io/client-go/pkg/listers/security/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"sigs.k8s.io/yaml"

	"github.com/meshinsight/kubectl-meshinsight/hack/standin/proxyconfig"
)

// discovery computes each sidecar's configuration from the cluster's
// Services, EndpointSlices, pods, DestinationRules and
// PeerAuthentications, as istiod's xDS server does, and signs workload
// certificates.
type discovery struct {
	pods      corelisters.PodLister
	services  corelisters.ServiceLister
	slices    discoverylisters.EndpointSliceLister
	rules     istiolisters.DestinationRuleLister
	peers     securitylisters.PeerAuthenticationLister
	rootNS    string // Istio's root namespace: mesh-wide policy
	ca        *ca
	threadsBy func(*corev1.Pod) int
}

// serveConfig answers GET /v1/config?namespace=NS&pod=NAME.
func (d *discovery) serveConfig(w http.ResponseWriter, r *http.Request) {
	ns, name := r.URL.Query().Get("namespace"), r.URL.Query().Get("pod")
	pod, err := d.pods.Pods(ns).Get(name)
	if err != nil {
		http.Error(w, fmt.Sprintf("pod %s/%s: %v", ns, name, err), http.StatusNotFound)
		return
	}
	cfg, err := d.config(pod)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	out, _ := json.Marshal(map[string]any{"version": cfg.Version(), "config": cfg}) // plain data
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(out)
}

// serveSign answers POST /v1/sign with a PEM CSR; the X-Pod header names
// the pod, whose service account is the identity.
func (d *discovery) serveSign(w http.ResponseWriter, r *http.Request) {
	ns, name, _ := strings.Cut(r.Header.Get("X-Pod"), "/")
	pod, err := d.pods.Pods(ns).Get(name)
	if err != nil {
		http.Error(w, fmt.Sprintf("pod %s/%s: %v", ns, name, err), http.StatusForbidden)
		return
	}
	csr, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	id := spiffeID(pod)
	chain, err := d.ca.signWorkload(csr, id)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	log.Printf("signed %s for pod %s/%s", id, ns, name)
	out, _ := json.Marshal(map[string]string{"certChain": string(chain), "root": string(d.ca.pem)})
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(out)
}

func spiffeID(pod *corev1.Pod) string {
	sa := pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	return fmt.Sprintf("spiffe://cluster.local/ns/%s/sa/%s", pod.Namespace, sa)
}

// config is the sidecar configuration of pod.
func (d *discovery) config(pod *corev1.Pod) (proxyconfig.Config, error) {
	cfg := proxyconfig.Config{Threads: d.threadsBy(pod)}
	services, err := d.services.List(labels.Everything())
	if err != nil {
		return cfg, fmt.Errorf("listing services: %w", err)
	}
	for _, svc := range services {
		if svc.Namespace == pod.Namespace && len(svc.Spec.Selector) > 0 &&
			labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(pod.Labels)) {
			cfg.Inbound = append(cfg.Inbound, inboundPorts(svc, pod)...)
		}
		out, err := d.outbound(svc)
		if err != nil {
			return cfg, err
		}
		cfg.Outbound = append(cfg.Outbound, out...)
	}
	strict, err := d.strict(pod)
	if err != nil {
		return cfg, err
	}
	cfg.StrictMTLS = strict
	cfg.Normalize()
	return cfg, nil
}

// inboundPorts are the pod's ports a Service targets, with their protocol.
func inboundPorts(svc *corev1.Service, pod *corev1.Pod) []proxyconfig.AppPort {
	var out []proxyconfig.AppPort
	for _, p := range svc.Spec.Ports {
		if p.Protocol != "" && p.Protocol != corev1.ProtocolTCP {
			continue
		}
		port := int(p.Port)
		switch {
		case p.TargetPort.Type == intstr.String:
			port = namedPort(pod, p.TargetPort.StrVal)
		case p.TargetPort.IntValue() > 0:
			port = p.TargetPort.IntValue()
		}
		if port > 0 {
			out = append(out, proxyconfig.AppPort{Port: port, Protocol: protocolOf(p)})
		}
	}
	return out
}

func namedPort(pod *corev1.Pod, name string) int {
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.Name == name {
				return int(p.ContainerPort)
			}
		}
	}
	return 0
}

// protocolOf is Istio's protocol selection: appProtocol, else the port
// name's prefix; HTTP/1.1 is parsed, everything else proxied as TCP.
func protocolOf(p corev1.ServicePort) proxyconfig.Protocol {
	name := p.Name
	if p.AppProtocol != nil {
		name = *p.AppProtocol
	}
	prefix, _, _ := strings.Cut(strings.ToLower(name), "-")
	if prefix == "http" {
		return proxyconfig.HTTP
	}
	return proxyconfig.TCP
}

// outbound lists the Service's ports with their ready endpoints.
func (d *discovery) outbound(svc *corev1.Service) ([]proxyconfig.Service, error) {
	ip, err := netip.ParseAddr(svc.Spec.ClusterIP)
	if err != nil || !ip.Is4() {
		return nil, nil // headless or dual-stack-only: not proxied by the stand-in
	}
	slices, err := d.slices.EndpointSlices(svc.Namespace).List(labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: svc.Name}))
	if err != nil {
		return nil, fmt.Errorf("listing endpoint slices of %s/%s: %w", svc.Namespace, svc.Name, err)
	}
	var out []proxyconfig.Service
	for _, p := range svc.Spec.Ports {
		if p.Protocol != "" && p.Protocol != corev1.ProtocolTCP {
			continue
		}
		s := proxyconfig.Service{
			Name: fmt.Sprintf("%s/%s:%d", svc.Namespace, svc.Name, p.Port), Protocol: protocolOf(p),
			VIP: netip.AddrPortFrom(ip, uint16(p.Port)),
		}
		tlsMode := d.tlsMode(svc, int(p.Port))
		for _, sl := range slices {
			for _, e := range readyEndpoints(sl, p.Name) {
				ep := proxyconfig.Endpoint{Addr: e.addr}
				if e.pod != "" {
					if peer, err := d.pods.Pods(svc.Namespace).Get(e.pod); err == nil {
						ep.MTLS = tlsMode == "ISTIO_MUTUAL" || tlsMode == "" && peer.Labels[labelTLSMode] == "istio"
						if ep.MTLS {
							ep.Identity = spiffeID(peer)
						}
					}
				}
				s.Endpoints = append(s.Endpoints, ep)
			}
		}
		out = append(out, s)
	}
	return out, nil
}

type endpoint struct {
	addr netip.AddrPort
	pod  string
}

// readyEndpoints are a slice's ready IPv4 endpoints on the named port.
func readyEndpoints(sl *discoveryv1.EndpointSlice, portName string) []endpoint {
	port := 0
	for _, p := range sl.Ports {
		if p.Port != nil && (p.Name == nil && portName == "" || p.Name != nil && *p.Name == portName) {
			port = int(*p.Port)
		}
	}
	if port == 0 || sl.AddressType != discoveryv1.AddressTypeIPv4 {
		return nil
	}
	var out []endpoint
	for _, e := range sl.Endpoints {
		if e.Conditions.Ready != nil && !*e.Conditions.Ready {
			continue
		}
		for _, a := range e.Addresses {
			ip, err := netip.ParseAddr(a)
			if err != nil {
				continue
			}
			ep := endpoint{addr: netip.AddrPortFrom(ip, uint16(port))}
			if e.TargetRef != nil && e.TargetRef.Kind == "Pod" {
				ep.pod = e.TargetRef.Name
			}
			out = append(out, ep)
		}
	}
	return out
}

// tlsMode is the client-side TLS mode a DestinationRule sets for the
// Service port ("DISABLE", "ISTIO_MUTUAL", …), or "" for auto mTLS. Rules
// in the Service's namespace win over the root namespace's; a port-level
// setting wins over the rule's default.
func (d *discovery) tlsMode(svc *corev1.Service, port int) string {
	hosts := map[string]bool{
		svc.Name: true, svc.Name + "." + svc.Namespace: true, svc.Name + "." + svc.Namespace + ".svc": true,
		svc.Name + "." + svc.Namespace + ".svc.cluster.local": true,
	}
	for _, ns := range []string{svc.Namespace, d.rootNS} {
		rules, err := d.rules.DestinationRules(ns).List(labels.Everything())
		if err != nil {
			continue
		}
		for _, r := range rules {
			if !hosts[r.Spec.Host] || (ns != svc.Namespace && !strings.Contains(r.Spec.Host, ".")) {
				continue
			}
			if mode := ruleTLSMode(r, port); mode != "" {
				return mode
			}
		}
	}
	return ""
}

func ruleTLSMode(r *networkingv1.DestinationRule, port int) string {
	tp := r.Spec.TrafficPolicy
	if tp == nil {
		return ""
	}
	for _, pl := range tp.PortLevelSettings {
		if pl.Port != nil && int(pl.Port.Number) == port && pl.Tls != nil {
			return pl.Tls.Mode.String()
		}
	}
	if tp.Tls != nil {
		return tp.Tls.Mode.String()
	}
	return ""
}

// strict reports whether PeerAuthentication requires mTLS for pod: the
// workload's policy, else its namespace's, else the root namespace's
// (Istio's precedence; UNSET inherits; port-level settings are ignored).
func (d *discovery) strict(pod *corev1.Pod) (bool, error) {
	var workload, namespace, mesh string
	for _, ns := range []string{pod.Namespace, d.rootNS} {
		list, err := d.peers.PeerAuthentications(ns).List(labels.Everything())
		if err != nil {
			return false, fmt.Errorf("listing peer authentications in %s: %w", ns, err)
		}
		for _, pa := range list {
			mode := peerMode(pa)
			switch {
			case pa.Spec.Selector != nil && ns == pod.Namespace:
				if labels.SelectorFromSet(pa.Spec.Selector.MatchLabels).Matches(labels.Set(pod.Labels)) {
					workload = mode
				}
			case pa.Spec.Selector == nil && ns == pod.Namespace:
				namespace = mode
			case pa.Spec.Selector == nil && ns == d.rootNS:
				mesh = mode
			}
		}
	}
	for _, m := range []string{workload, namespace, mesh} {
		if m != "" && m != "UNSET" {
			return m == "STRICT", nil
		}
	}
	return false, nil
}

func peerMode(pa *securityv1.PeerAuthentication) string {
	if pa.Spec.Mtls == nil {
		return ""
	}
	return pa.Spec.Mtls.Mode.String()
}

// threads is the pod's proxy concurrency: proxy.istio.io/config's
// concurrency, else Istio's default of 2.
func threads(pod *corev1.Pod) int {
	var pc struct {
		Concurrency *int `json:"concurrency"`
	}
	if v := pod.Annotations["proxy.istio.io/config"]; v != "" && yaml.Unmarshal([]byte(v), &pc) == nil && pc.Concurrency != nil && *pc.Concurrency > 0 {
		return *pc.Concurrency
	}
	return 2
}
