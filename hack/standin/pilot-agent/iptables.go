package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// iptablesOptions are the istio-iptables flags the injector passes (a subset
// of Istio's, same spelling and meaning).
type iptablesOptions struct {
	outboundPort, inboundPort int
	proxyUID, proxyGID        string
	mode                      string
	includeOutbound           string // -i: "*" or CIDRs
	excludeOutbound           string // -x: CIDRs
	includeInbound            string // -b: "*" or ports
	excludeInbound            string // -d: ports
	excludeOutboundPorts      string // -o: ports
	dryRun                    bool
	restore                   string
}

func (o *iptablesOptions) flags(fs *flag.FlagSet) {
	fs.IntVar(&o.outboundPort, "p", 15001, "port outbound TCP is redirected to")
	fs.IntVar(&o.inboundPort, "z", 15006, "port inbound TCP is redirected to")
	fs.StringVar(&o.proxyUID, "u", "1337", "uid of the proxy, whose traffic is not redirected")
	fs.StringVar(&o.proxyGID, "g", "", "gid of the proxy (default: the uid)")
	fs.StringVar(&o.mode, "m", "REDIRECT", "inbound interception mode (only REDIRECT)")
	fs.StringVar(&o.includeOutbound, "i", "*", "outbound destinations to redirect: * or comma-separated CIDRs")
	fs.StringVar(&o.excludeOutbound, "x", "", "outbound destinations (CIDRs) never redirected")
	fs.StringVar(&o.includeInbound, "b", "*", "inbound ports to redirect: * or comma-separated ports")
	fs.StringVar(&o.excludeInbound, "d", "15090,15021,15020", "inbound ports never redirected")
	fs.StringVar(&o.excludeOutboundPorts, "o", "", "outbound ports never redirected")
	fs.BoolVar(&o.dryRun, "dry-run", false, "print the rules instead of applying them")
	fs.StringVar(&o.restore, "restore", "iptables-restore", "iptables-restore binary (nf_tables backend)")
	fs.String("log_output_level", "", "accepted for compatibility; ignored")
}

// runIptables is the istio-init container: it installs the redirection
// rules in the pod's network namespace (it shares it) and exits.
func runIptables(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("istio-iptables", flag.ContinueOnError)
	var o iptablesOptions
	o.flags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	rules, err := o.rules()
	if err != nil {
		return err
	}
	fmt.Fprint(out, rules)
	if o.dryRun {
		return nil
	}
	cmd := exec.Command(o.restore, "--noflush")
	cmd.Stdin = strings.NewReader(rules)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = out, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w: %s", o.restore, err, strings.TrimSpace(stderr.String()))
	}
	fmt.Fprintln(out, "istio-iptables: rules installed")
	return nil
}

// rules renders the nat table as iptables-restore input: the same chains
// and order as Istio's istio-iptables in REDIRECT mode.
func (o iptablesOptions) rules() (string, error) {
	if o.mode != "REDIRECT" {
		return "", fmt.Errorf("-m %s: the stand-in supports REDIRECT only", o.mode)
	}
	gid := o.proxyGID
	if gid == "" {
		gid = o.proxyUID
	}
	for _, id := range []string{o.proxyUID, gid} {
		if _, err := strconv.Atoi(id); err != nil {
			return "", fmt.Errorf("proxy uid/gid %q: want a number", id)
		}
	}
	excludedIn, err := ports(o.excludeInbound)
	if err != nil {
		return "", fmt.Errorf("-d: %w", err)
	}
	excludedOut, err := ports(o.excludeOutboundPorts)
	if err != nil {
		return "", fmt.Errorf("-o: %w", err)
	}
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	w("*nat")
	for _, c := range []string{"ISTIO_INBOUND", "ISTIO_IN_REDIRECT", "ISTIO_OUTPUT", "ISTIO_REDIRECT"} {
		w(":%s - [0:0]", c)
	}
	w("-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports %d", o.outboundPort)
	w("-A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports %d", o.inboundPort)

	// Inbound: every TCP port but the excluded ones (or only the listed).
	w("-A PREROUTING -p tcp -j ISTIO_INBOUND")
	if strings.TrimSpace(o.includeInbound) == "*" {
		w("-A ISTIO_INBOUND -p tcp --dport 15008 -j RETURN")
		for _, p := range excludedIn {
			w("-A ISTIO_INBOUND -p tcp --dport %d -j RETURN", p)
		}
		w("-A ISTIO_INBOUND -p tcp -j ISTIO_IN_REDIRECT")
	} else if o.includeInbound != "" {
		included, err := ports(o.includeInbound)
		if err != nil {
			return "", fmt.Errorf("-b: %w", err)
		}
		for _, p := range included {
			w("-A ISTIO_INBOUND -p tcp --dport %d -j ISTIO_IN_REDIRECT", p)
		}
	}

	// Outbound: everything but the proxy's own traffic, loopback and the
	// excluded ports and ranges. An application calling its own Service
	// VIP reaches the proxy's outbound listener, which connects to the pod
	// itself over lo: that leg goes to the inbound listener.
	w("-A OUTPUT -p tcp -j ISTIO_OUTPUT")
	w("-A ISTIO_OUTPUT -o lo -s 127.0.0.6/32 -j RETURN")
	for _, owner := range []string{"--uid-owner " + o.proxyUID, "--gid-owner " + gid} {
		w("-A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner %s -j ISTIO_IN_REDIRECT", owner)
		w("-A ISTIO_OUTPUT -o lo -m owner ! %s -j RETURN", owner)
		w("-A ISTIO_OUTPUT -m owner %s -j RETURN", owner)
	}
	w("-A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN")
	for _, p := range excludedOut {
		w("-A ISTIO_OUTPUT -p tcp --dport %d -j RETURN", p)
	}
	for _, cidr := range list(o.excludeOutbound) {
		w("-A ISTIO_OUTPUT -d %s -j RETURN", cidr)
	}
	if strings.TrimSpace(o.includeOutbound) == "*" {
		w("-A ISTIO_OUTPUT -j ISTIO_REDIRECT")
	} else {
		for _, cidr := range list(o.includeOutbound) {
			w("-A ISTIO_OUTPUT -d %s -j ISTIO_REDIRECT", cidr)
		}
	}
	w("COMMIT")
	return b.String(), nil
}

// list splits a comma-separated flag value, dropping empty items.
func list(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// ports parses a comma-separated port list.
func ports(s string) ([]int, error) {
	var out []int
	for _, v := range list(s) {
		p, err := strconv.Atoi(v)
		if err != nil || p < 1 || p > 65535 {
			return nil, fmt.Errorf("port %q: want 1 to 65535", v)
		}
		out = append(out, p)
	}
	return out, nil
}

// exitErr prints err and exits non-zero.
func exitErr(err error) {
	fmt.Fprintln(os.Stderr, "pilot-agent:", err)
	os.Exit(1)
}
