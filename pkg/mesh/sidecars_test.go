package mesh

import (
	"strings"
	"testing"
)

func TestRenderSidecars(t *testing.T) {
	out, err := RenderSidecars([]SidecarPlan{
		{Namespace: "shop", Name: "web-observed", Selector: map[string]string{"app": "web"},
			Hosts: []string{"shop/api.shop.svc.cluster.local"}, Comment: "shop/web was observed calling 1 service"},
		{Namespace: "shop", Name: "api-observed", Selector: map[string]string{"app": "api"}, Hosts: NoHosts},
	}, []string{"scope=observed"})
	if err != nil {
		t.Fatal(err)
	}
	want := `# scope=observed
---
# shop/web was observed calling 1 service
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata:
  labels:
    app.kubernetes.io/managed-by: kubectl-meshinsight
  name: web-observed
  namespace: shop
spec:
  egress:
  - hosts:
    - shop/api.shop.svc.cluster.local
  workloadSelector:
    labels:
      app: web
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata:
  labels:
    app.kubernetes.io/managed-by: kubectl-meshinsight
  name: api-observed
  namespace: shop
spec:
  egress:
  - hosts:
    - ~/*
  workloadSelector:
    labels:
      app: api
`
	if string(out) != want {
		t.Errorf("got:\n%s\nwant:\n%s", out, want)
	}
	// What was written reads back as the same Sidecar.
	c := load(t, strings.SplitN(string(out), "---\n", 3)[1])
	if name, ok := c.WorkloadSidecar(Workload{Namespace: "shop", Name: "web", Labels: map[string]string{"app": "web", "v": "1"}}); !ok || name != "shop/web-observed" {
		t.Errorf("WorkloadSidecar = %q, %v", name, ok)
	}
	if _, ok := c.WorkloadSidecar(Workload{Namespace: "shop", Name: "api", Labels: map[string]string{"app": "api"}}); ok {
		t.Error("a Sidecar that was not loaded selects api")
	}
}
