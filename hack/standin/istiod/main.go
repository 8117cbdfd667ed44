// Command istiod is the test environment's stand-in for Istio's istiod (see
// hack/standin): it serves the sidecar-injection webhook, signs workload
// certificates and serves each sidecar its configuration. It runs in the
// cluster, in istio-system, as Deployment istiod.
package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	istioclient "istio.io/client-go/pkg/clientset/versioned"
	istioinformers "istio.io/client-go/pkg/informers/externalversions"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

func main() {
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)
	log.SetPrefix("istiod: ")
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx); err != nil {
		log.Printf("error: %v", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	ns := flag.String("namespace", os.Getenv("POD_NAMESPACE"), "istiod's namespace (Istio's root namespace)")
	service := flag.String("service", "istiod", "istiod's Service: the webhook's DNS name and the sidecars' configuration address")
	webhook := flag.String("webhook-config", "istio-sidecar-injector", "MutatingWebhookConfiguration whose caBundle istiod keeps current")
	proxyImage := flag.String("proxy-image", os.Getenv("PROXY_IMAGE"), "image of istio-init and istio-proxy (proxyv2)")
	revision := flag.String("revision", "default", "the revision recorded in the injection status")
	webhookAddr := flag.String("webhook-listen", ":15017", "address of the webhook (HTTPS)")
	configAddr := flag.String("config-listen", ":15010", "address of the sidecars' configuration API (HTTP)")
	configPort := flag.Int("config-port", 15010, "Service port of the configuration API")
	flag.Parse()
	if *ns == "" || *proxyImage == "" {
		return errors.New("--namespace (or POD_NAMESPACE) and --proxy-image (or PROXY_IMAGE) are required")
	}
	restCfg, err := rest.InClusterConfig()
	if err != nil {
		return fmt.Errorf("in-cluster config: %w", err)
	}
	kc, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		return fmt.Errorf("creating the client: %w", err)
	}
	ic, err := istioclient.NewForConfig(restCfg)
	if err != nil {
		return fmt.Errorf("creating the Istio client: %w", err)
	}
	root, err := newCA()
	if err != nil {
		return err
	}
	svc, err := kc.CoreV1().Services(*ns).Get(ctx, *service, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("getting Service %s/%s: %w", *ns, *service, err)
	}
	serving, err := root.servingCert([]string{*service + "." + *ns + ".svc", *service + "." + *ns + ".svc.cluster.local"})
	if err != nil {
		return err
	}

	d, err := startDiscovery(ctx, kc, ic, *ns, root)
	if err != nil {
		return err
	}

	inj := &injector{proxyImage: *proxyImage, revision: *revision,
		istiodAddress: net.JoinHostPort(svc.Spec.ClusterIP, fmt.Sprint(*configPort))}
	webhookMux := http.NewServeMux()
	webhookMux.Handle("/inject", inj)
	configMux := http.NewServeMux()
	configMux.HandleFunc("GET /v1/config", d.serveConfig)
	configMux.HandleFunc("POST /v1/sign", d.serveSign)
	configMux.HandleFunc("GET /ready", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ready") })

	errc := make(chan error, 2)
	servers := []*http.Server{
		{Addr: *webhookAddr, Handler: webhookMux, ReadHeaderTimeout: 10 * time.Second,
			TLSConfig: &tls.Config{Certificates: []tls.Certificate{serving}, MinVersion: tls.VersionTLS12}},
		{Addr: *configAddr, Handler: configMux, ReadHeaderTimeout: 10 * time.Second},
	}
	go func() { errc <- servers[0].ListenAndServeTLS("", "") }()
	go func() { errc <- servers[1].ListenAndServe() }()
	// Like istiod's webhook patcher: the injector's configuration trusts
	// this istiod's root, and readiness waits for it.
	if err := patchCABundle(ctx, kc, *webhook, root.pem); err != nil {
		return err
	}
	log.Printf("serving: webhook %s, configuration %s (sidecars reach it at %s), proxy image %s",
		*webhookAddr, *configAddr, inj.istiodAddress, *proxyImage)
	select {
	case <-ctx.Done():
	case err := <-errc:
		return err
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, s := range servers {
		_ = s.Shutdown(sctx)
	}
	return nil
}

// startDiscovery starts the informers the configuration is computed from
// and waits for their caches.
func startDiscovery(ctx context.Context, kc kubernetes.Interface, ic istioclient.Interface, ns string, root *ca) (*discovery, error) {
	kf := informers.NewSharedInformerFactory(kc, 10*time.Minute)
	isf := istioinformers.NewSharedInformerFactory(ic, 10*time.Minute)
	d := &discovery{
		pods: kf.Core().V1().Pods().Lister(), services: kf.Core().V1().Services().Lister(),
		slices: kf.Discovery().V1().EndpointSlices().Lister(),
		rules:  isf.Networking().V1().DestinationRules().Lister(), peers: isf.Security().V1().PeerAuthentications().Lister(),
		rootNS: ns, ca: root, threadsBy: threads,
	}
	kf.Start(ctx.Done())
	isf.Start(ctx.Done())
	for typ, ok := range kf.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return nil, fmt.Errorf("syncing the %v informer", typ)
		}
	}
	for typ, ok := range isf.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return nil, fmt.Errorf("syncing the %v informer", typ)
		}
	}
	return d, nil
}

// patchCABundle sets the caBundle of every webhook of the named
// MutatingWebhookConfiguration.
func patchCABundle(ctx context.Context, kc kubernetes.Interface, name string, caPEM []byte) error {
	mwc, err := kc.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("getting MutatingWebhookConfiguration %s: %w", name, err)
	}
	var ops []patchOp
	for i := range mwc.Webhooks {
		ops = append(ops, patchOp{"add", fmt.Sprintf("/webhooks/%d/clientConfig/caBundle", i), caPEM})
	}
	b, _ := json.Marshal(ops) // plain data: cannot fail
	if _, err := kc.AdmissionregistrationV1().MutatingWebhookConfigurations().Patch(ctx, name, types.JSONPatchType, b, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("patching the caBundle of %s: %w", name, err)
	}
	log.Printf("patched the caBundle of MutatingWebhookConfiguration %s", name)
	return nil
}
