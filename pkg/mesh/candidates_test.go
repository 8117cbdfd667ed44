package mesh

import (
	"reflect"
	"strings"
	"testing"

	"github.com/meshinsight/kubectl-meshinsight/pkg/dataplane"
)

func TestCandidateEdges(t *testing.T) {
	bookinfo := func(name, app, version, sa string) Workload {
		return Workload{Namespace: "bookinfo", Name: name, Labels: map[string]string{"app": app, "version": version},
			Mode: dataplane.Sidecar, ServiceAccount: sa}
	}
	productpage := bookinfo("productpage-v1", "productpage", "v1", "bookinfo-productpage")
	reviews1 := bookinfo("reviews-v1", "reviews", "v1", "bookinfo-reviews")
	reviews2 := bookinfo("reviews-v2", "reviews", "v2", "bookinfo-reviews")
	ratings := bookinfo("ratings-v1", "ratings", "v1", "bookinfo-ratings")
	details := bookinfo("details-v1", "details", "v1", "bookinfo-details")
	ratingsV2 := bookinfo("ratings-v2", "ratings-next", "v2", "bookinfo-ratings")
	loadgen := Workload{Namespace: "tools", Name: "loadgen", Labels: map[string]string{"app": "loadgen"}, ServiceAccount: "loadgen"}
	workloads := []Workload{productpage, reviews1, reviews2, ratings, details, ratingsV2, loadgen}
	svc := func(name, app string) Service {
		return Service{Namespace: "bookinfo", Name: name, Ports: []Port{{Name: "http", Port: 9080}}, Selector: map[string]string{"app": app}}
	}
	services := []Service{svc("productpage", "productpage"), svc("reviews", "reviews"), svc("ratings", "ratings"),
		svc("details", "details"), svc("ratings-next", "ratings-next")}

	tests := []struct {
		name      string
		resources []string
		want      []CandidateEdge
	}{
		{"no configuration, no candidates", nil, nil},
		{"AuthorizationPolicy principal", []string{`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {namespace: bookinfo, name: ratings-viewer}
spec:
  selector: {matchLabels: {app: ratings}}
  action: ALLOW
  rules:
  - from: [{source: {principals: ["cluster.local/ns/bookinfo/sa/bookinfo-reviews"]}}]
    to: [{operation: {methods: [GET]}}]`}, []CandidateEdge{
			{From: "bookinfo/reviews-v1", To: "bookinfo/ratings-v1", Service: "bookinfo/ratings",
				Reason: "AuthorizationPolicy bookinfo/ratings-viewer allows principal cluster.local/ns/bookinfo/sa/bookinfo-reviews"},
			{From: "bookinfo/reviews-v2", To: "bookinfo/ratings-v1", Service: "bookinfo/ratings",
				Reason: "AuthorizationPolicy bookinfo/ratings-viewer allows principal cluster.local/ns/bookinfo/sa/bookinfo-reviews"},
		}},
		{"namespaces, service accounts, wildcards and DENY", []string{`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {namespace: bookinfo, name: details}
spec:
  selector: {matchLabels: {app: details}}
  rules:
  - from: [{source: {namespaces: [tools]}}, {source: {serviceAccounts: [bookinfo-productpage]}}, {source: {principals: ["*"]}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {namespace: bookinfo, name: deny}
spec:
  action: DENY
  rules: [{from: [{source: {namespaces: [tools]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {namespace: bookinfo, name: allow-nothing}
spec: {}`}, []CandidateEdge{
			{From: "bookinfo/productpage-v1", To: "bookinfo/details-v1", Service: "bookinfo/details",
				Reason: "AuthorizationPolicy bookinfo/details allows service account bookinfo-productpage"},
			{From: "tools/loadgen", To: "bookinfo/details-v1", Service: "bookinfo/details",
				Reason: "AuthorizationPolicy bookinfo/details allows namespace tools"},
		}},
		{"Sidecar egress exact hosts, VirtualService redirection and subsets", []string{`apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {namespace: bookinfo, name: productpage}
spec:
  workloadSelector: {labels: {app: productpage}}
  egress: [{hosts: ["./reviews.bookinfo.svc.cluster.local", "./*", "istio-system/*"]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {namespace: bookinfo, name: reviews}
spec:
  hosts: [reviews]
  http:
  - route: [{destination: {host: reviews, subset: v2}, weight: 90}, {destination: {host: ratings-next}, weight: 10}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {namespace: bookinfo, name: reviews}
spec: {host: reviews, subsets: [{name: v2, labels: {version: v2}}]}`}, []CandidateEdge{
			{From: "bookinfo/productpage-v1", To: "bookinfo/ratings-v2", Service: "bookinfo/ratings-next",
				Reason: "VirtualService bookinfo/reviews routes reviews.bookinfo.svc.cluster.local to ratings-next.bookinfo.svc.cluster.local"},
			{From: "bookinfo/productpage-v1", To: "bookinfo/reviews-v1", Service: "bookinfo/reviews",
				Reason: "Sidecar bookinfo/productpage egress host ./reviews.bookinfo.svc.cluster.local"},
			{From: "bookinfo/productpage-v1", To: "bookinfo/reviews-v2", Service: "bookinfo/reviews",
				Reason: "Sidecar bookinfo/productpage egress host ./reviews.bookinfo.svc.cluster.local"},
		}},
		{"VirtualService sourceLabels", []string{`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {namespace: bookinfo, name: ratings}
spec:
  hosts: [ratings]
  http:
  - match: [{sourceLabels: {app: reviews, version: v2}}]
    route: [{destination: {host: ratings}}]
  - route: [{destination: {host: ratings}}]`}, []CandidateEdge{
			{From: "bookinfo/reviews-v2", To: "bookinfo/ratings-v1", Service: "bookinfo/ratings",
				Reason: "VirtualService bookinfo/ratings routes calls from bookinfo/reviews-v2 to ratings.bookinfo.svc.cluster.local"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := load(t, strings.Join(tt.resources, "\n---\n"))
			got := c.CandidateEdges(workloads, services)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("CandidateEdges =\n%s\nwant\n%s", edgesString(got), edgesString(tt.want))
			}
		})
	}
}

func edgesString(es []CandidateEdge) string {
	var b strings.Builder
	for _, e := range es {
		b.WriteString("  " + e.From + " -> " + e.To + " (" + e.Service + "): " + e.Reason + "\n")
	}
	return b.String()
}
