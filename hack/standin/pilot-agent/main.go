// Command pilot-agent is the stand-in for Istio's pilot-agent in the proxyv2
// image of the test environment's stand-in Istio (see hack/standin):
//
//	pilot-agent istio-iptables [flags]   the istio-init container
//	pilot-agent proxy sidecar [flags]    the istio-proxy container
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)
	log.SetPrefix("pilot-agent: ")
	if len(os.Args) < 2 {
		exitErr(fmt.Errorf("usage: pilot-agent istio-iptables|proxy ..."))
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	var err error
	switch os.Args[1] {
	case "istio-iptables":
		err = runIptables(os.Args[2:], os.Stdout)
	case "proxy":
		err = runSidecar(ctx, os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q: want istio-iptables or proxy", os.Args[1])
	}
	if err != nil {
		exitErr(err)
	}
}
