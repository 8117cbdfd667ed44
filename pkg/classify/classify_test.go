package classify

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/meshinsight/kubectl-meshinsight/pkg/profile"
	"github.com/meshinsight/kubectl-meshinsight/pkg/symbolize"
)

// Mangled names as they appear in Envoy's symbol table.
const (
	envoyWritev        = "_ZN5Envoy7Network18IoSocketHandleImpl6writevEPKNS_6Buffer8RawSliceEm"
	envoyReadv         = "_ZN5Envoy7Network18IoSocketHandleImpl5readvEmPNS_6Buffer8RawSliceEm"
	envoyRawDoWrite    = "_ZN5Envoy7Network15RawBufferSocket7doWriteERNS_6Buffer8InstanceEb"
	envoyOnWriteReady  = "_ZN5Envoy7Network14ConnectionImpl12onWriteReadyEv"
	envoySslDoWrite    = "_ZN5Envoy10Extensions16TransportSockets3Tls9SslSocket7doWriteERNS_6Buffer8InstanceEb"
	bsslSealRecord     = "_ZN4bssl15tls_seal_recordEP6ssl_stPhPmmhPKhm"
	balsaExecute       = "_ZN5Envoy4Http5Http111BalsaParser7executeEPKcm"
	balsaProcessHdrs   = "_ZN6quiche10BalsaFrame14ProcessHeadersEPKcm"
	balsaProcessInput  = "_ZN6quiche10BalsaFrame12ProcessInputEPKcm"
	http1DispatchSlice = "_ZN5Envoy4Http5Http114ConnectionImpl13dispatchSliceEPKcm"
	http1Dispatch      = "_ZN5Envoy4Http5Http114ConnectionImpl8dispatchERNS_6Buffer8InstanceE"
	hcmOnData          = "_ZN5Envoy4Http21ConnectionManagerImpl6onDataERNS_6Buffer8InstanceEb"
	hcmDecodeHeaders   = "_ZN5Envoy4Http21ConnectionManagerImpl12ActiveStream13decodeHeadersEOSt10unique_ptrINS0_16RequestHeaderMapESt14default_deleteIS4_EEb"
	fmDecodeHeaders    = "_ZN5Envoy4Http13FilterManager13decodeHeadersEPNS0_25ActiveStreamDecoderFilterERNS0_16RequestHeaderMapE"
	onHeadersComplete  = "_ZN5Envoy4Http5Http120ServerConnectionImpl21onHeadersCompleteBaseEv"
	luaDecodeHeaders   = "_ZN5Envoy10Extensions11HttpFilters3Lua6Filter13decodeHeadersERNS_4Http16RequestHeaderMapEb"
	routerDecode       = "_ZN5Envoy6Router6Filter13decodeHeadersERNS_4Http16RequestHeaderMapEb"
	// A router function taking an Http1 type: the parameter must not make it
	// parsing.
	routerWithHttp1Arg = "_ZN5Envoy6Router6Filter13decodeHeadersERNS_4Http5Http114ConnectionImplE"
	dispatcherRun      = "_ZN5Envoy5Event14DispatcherImpl3runENS0_10Dispatcher7RunTypeE"

	rustlsRead       = "_ZN73_$LT$rustls..conn..ConnectionCommon$LT$T$GT$$u20$as$u20$std..io..Read$GT$4read17h0123456789abcdefE"
	httparseHeaders  = "_ZN8httparse18parse_headers_iter17h0123456789abcdefE"
	hyperServerParse = "_ZN5hyper5proto2h14role6Server5parse17h0123456789abcdefE"
	hyperPollRead    = "_ZN5hyper5proto2h18dispatch10Dispatcher9poll_read17h0123456789abcdefE"
	// Rust v0 mangling (the default of current toolchains): inherent methods
	// demangle with angle brackets, "<rustls::conn::ConnectionCommon>::read_tls".
	rustlsReadTLSv0 = "_RNvMNtCsjrHSEGnQ3l9_6rustls4connNtB2_16ConnectionCommon8read_tls"
	stdFileReadv0   = "_RNvXs7_NtCsjrHSEGnQ3l9_3std2fsRNtB5_4FileNtNtB7_2io4Read14read_to_string"
)

var (
	syscallEntry = []string{"do_syscall_64", "entry_SYSCALL_64_after_hwframe"}
	// writev(2) on a TCP socket, leaf first.
	kWritev = append([]string{"tcp_sendmsg_locked", "tcp_sendmsg", "inet_sendmsg", "sock_write_iter", "do_iter_readv_writev", "vfs_writev", "do_writev", "__x64_sys_writev"}, syscallEntry...)
	kReadv  = append([]string{"_copy_to_iter", "__skb_datagram_iter", "skb_copy_datagram_iter", "tcp_recvmsg_locked", "tcp_recvmsg", "inet_recvmsg", "sock_read_iter", "do_iter_readv_writev", "vfs_readv", "do_readv", "__x64_sys_readv"}, syscallEntry...)
	// The loopback delivery of a send, run in the sender's softirq.
	kLoopbackInSend = append([]string{"ep_poll_callback", "__wake_up_common", "sock_def_readable", "tcp_data_queue", "tcp_rcv_established", "tcp_v4_do_rcv", "tcp_v4_rcv", "ip_protocol_deliver_rcu", "ip_local_deliver_finish", "ip_local_deliver", "ip_rcv", "__netif_receive_skb_one_core", "process_backlog", "__napi_poll", "net_rx_action", "__do_softirq", "do_softirq", "__local_bh_enable_ip", "ip_finish_output2", "ip_output", "__ip_queue_xmit", "__tcp_transmit_skb", "tcp_write_xmit", "__tcp_push_pending_frames"}, kWritev...)
	// Istio's iptables redirect evaluated on output.
	kNetfilterOut = append([]string{"ipt_do_table", "nf_hook_slow", "__ip_local_out", "ip_local_out", "__ip_queue_xmit", "__tcp_transmit_skb", "tcp_write_xmit", "__tcp_push_pending_frames"}, kWritev...)
	// Conntrack NAT on the loopback receive inside a send.
	kNATInLoopback = append([]string{"nf_nat_inet_fn", "nf_hook_slow", "ip_rcv", "__netif_receive_skb_one_core", "process_backlog", "net_rx_action", "__do_softirq", "do_softirq", "__local_bh_enable_ip", "ip_finish_output2"}, kWritev...)
	kEpollWait     = append([]string{"ep_poll", "do_epoll_wait", "__x64_sys_epoll_wait"}, syscallEntry...)
	kPageFault     = []string{"clear_page_erms", "do_anonymous_page", "handle_mm_fault", "do_user_addr_fault", "exc_page_fault", "asm_exc_page_fault"}
	kRecvfrom      = append([]string{"tcp_recvmsg_locked", "tcp_recvmsg", "inet_recvmsg", "sock_recvmsg", "__sys_recvfrom", "__x64_sys_recvfrom"}, syscallEntry...)
	kSendto        = append([]string{"tcp_sendmsg_locked", "tcp_sendmsg", "sock_sendmsg", "__sys_sendto", "__x64_sys_sendto"}, syscallEntry...)
	kFutex         = append([]string{"futex_wait", "do_futex", "__x64_sys_futex"}, syscallEntry...)

	envoyRoot      = []string{"event_process_active_single_queue", "event_base_loop", dispatcherRun, "_ZN5Envoy6Server12InstanceImpl3runEv", "main", "__libc_start_call_main"}
	envoyWritePath = append([]string{"writev", envoyWritev, envoyRawDoWrite, envoyOnWriteReady}, envoyRoot...)
	envoyTLSWrite  = append([]string{"writev", envoyWritev, "_ZN5Envoy10Extensions16TransportSockets3Tls12_GLOBAL__N_19io_handle_writeEP6bio_stPKci", "BIO_write", "bssl::ssl_write_buffer_flush", "SSL_write", envoySslDoWrite, envoyOnWriteReady}, envoyRoot...)
	envoyParse     = []string{balsaProcessHdrs, balsaProcessInput, balsaExecute, http1DispatchSlice, http1Dispatch, hcmOnData}
)

func stack(parts ...[]string) []string { return slices.Concat(parts...) }

func TestKnownAndEmbeddedFilesLoad(t *testing.T) {
	want := []string{"envoy", "haproxy", "linkerd2-proxy", "nginx", "ztunnel"}
	if got := Known(); !slices.Equal(got, want) {
		t.Fatalf("Known() = %v, want %v", got, want)
	}
	for _, p := range want {
		r, err := Load(p)
		if err != nil {
			t.Errorf("Load(%q): %v", p, err)
			continue
		}
		if r.Proxy() != p {
			t.Errorf("Load(%q).Proxy() = %q", p, r.Proxy())
		}
		// Every proxy gets the shared kernel rules.
		if c := r.Classify(kEpollWait, nil); c != profile.Epoll {
			t.Errorf("%s: epoll_wait = %s", p, c)
		}
	}
	ents, _ := embedded.ReadDir("rules")
	for _, e := range ents {
		data, _ := embedded.ReadFile("rules/" + e.Name())
		if _, err := ParseFile(e.Name(), data); err != nil {
			t.Errorf("embedded %s: %v", e.Name(), err)
		}
	}
	for _, p := range []string{"kernel", "istio", ""} {
		if _, err := Load(p); !errors.Is(err, ErrUnknownProxy) {
			t.Errorf("Load(%q) error = %v, want ErrUnknownProxy", p, err)
		}
	}
}

type stackCase struct {
	name         string
	kernel, user []string
	want         profile.Component
}

func runCases(t *testing.T, proxy string, cases []stackCase) {
	t.Helper()
	r, err := Load(proxy)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		if got := r.Classify(tc.kernel, tc.user); got != tc.want {
			t.Errorf("%s/%s: Classify = %s, want %s", proxy, tc.name, got, tc.want)
		}
	}
}

func TestEnvoy(t *testing.T) {
	runCases(t, "envoy", []stackCase{
		{"write", kWritev, envoyWritePath, profile.SocketWrite},
		// Precedence: kernel time of a TLS write is the syscall's.
		{"tls write syscall", kWritev, envoyTLSWrite, profile.SocketWrite},
		{"tls seal", nil, stack([]string{"gcm_ghash_avx", "aes_gcm_enc_update", "EVP_AEAD_CTX_seal", bsslSealRecord, "SSL_write", envoySslDoWrite, envoyOnWriteReady}, envoyRoot), profile.TLS},
		{"memcpy under ssl", nil, stack([]string{"__memmove_avx_unaligned_erms", "SSL_read"}, envoyRoot), profile.TLS},
		{"page fault under ssl", kPageFault, stack([]string{"__memmove_avx_unaligned_erms", "SSL_read"}, envoyRoot), profile.TLS},
		{"read", kReadv, stack([]string{"readv", envoyReadv}, envoyRoot), profile.SocketRead},
		{"balsa", nil, stack([]string{"__memchr_avx2"}, envoyParse, envoyRoot), profile.Parsing},
		{"old http_parser", nil, stack([]string{"http_parser_execute", "_ZN5Envoy4Http5Http120LegacyHttpParserImpl7executeEPKcm"}, envoyRoot), profile.Parsing},
		{"nghttp2", nil, stack([]string{"nghttp2_session_mem_recv2", "_ZN5Envoy4Http5Http214ConnectionImpl8dispatchERNS_6Buffer8InstanceE"}, envoyRoot), profile.Parsing},
		{"oghttp2", nil, stack([]string{"_ZN5http27adapter14OgHttp2Session12ProcessBytesESt17basic_string_viewIcSt11char_traitsIcEE"}, envoyRoot), profile.Parsing},
		// The codec's callback runs the filter chain: filters, not parsing.
		{"lua filter from codec", nil, stack([]string{"lua_pushlstring", luaDecodeHeaders, fmDecodeHeaders, hcmDecodeHeaders, onHeadersComplete}, envoyParse, envoyRoot), profile.Filters},
		{"wasm", nil, stack([]string{"_ZN2v88internal9Execution4CallEPNS0_7IsolateE", "_ZN10proxy_wasm11ContextBase17onRequestHeadersEjb"}, envoyRoot), profile.Filters},
		// The router is core: proxy-other, even called from the codec.
		{"router from codec", nil, stack([]string{"malloc", routerDecode, fmDecodeHeaders, hcmDecodeHeaders, onHeadersComplete}, envoyParse, envoyRoot), profile.ProxyOther},
		{"param types do not match", nil, []string{routerWithHttp1Arg}, profile.ProxyOther},
		{"hcm own time", nil, stack([]string{hcmDecodeHeaders, onHeadersComplete}, envoyParse), profile.ProxyOther},
		{"event loop", nil, envoyRoot, profile.ProxyOther},
		{"epoll", kEpollWait, stack([]string{"epoll_wait", "epoll_dispatch"}, envoyRoot), profile.Epoll},
		{"epoll user wrapper", nil, stack([]string{"epoll_wait", "epoll_dispatch"}, envoyRoot), profile.Epoll},
		{"loopback in send", kLoopbackInSend, envoyWritePath, profile.Loopback},
		{"iptables on output", kNetfilterOut, envoyWritePath, profile.Netfilter},
		{"nat in loopback", kNATInLoopback, envoyWritePath, profile.Netfilter},
		{"futex falls to user", kFutex, stack([]string{"__lll_lock_wait", balsaExecute}), profile.Parsing},
		{"empty", nil, nil, profile.ProxyOther},
		{"unresolved frames", []string{"", ""}, []string{"", "", ""}, profile.ProxyOther},
	})
}

func TestLinkerd(t *testing.T) {
	tokioRoot := []string{"_ZN5tokio7runtime4task3raw4poll17h0123456789abcdefE", "_ZN5tokio7runtime9scheduler12multi_thread6worker7Context8run_task17h0123456789abcdefE", "start_thread"}
	runCases(t, "linkerd2-proxy", []stackCase{
		{"rustls read", nil, stack([]string{"ring_core_0_17_8_aes_hw_ctr32_encrypt_blocks", "_ZN4ring4aead9aes_gcm7open17h0123456789abcdefE", rustlsRead}, tokioRoot), profile.TLS},
		{"rustls v0", nil, stack([]string{rustlsReadTLSv0}, tokioRoot), profile.TLS},
		{"reference receiver", nil, []string{"<&mut rustls::conn::ConnectionCommon<T> as std::io::Write>::write"}, profile.TLS},
		{"rustls demangled", nil, []string{"<rustls::conn::ConnectionCommon<T> as std::io::Read>::read"}, profile.TLS},
		{"aws-lc", nil, []string{"aws_lc_0_21_0_gcm_ghash_avx", "aws_lc_rs::aead::open"}, profile.TLS},
		{"tls syscall", kSendto, stack([]string{"__libc_sendto", rustlsRead}, tokioRoot), profile.SocketWrite},
		{"h1 parse", nil, stack([]string{httparseHeaders, hyperServerParse, hyperPollRead}, tokioRoot), profile.Parsing},
		{"service under dispatcher", nil, stack([]string{"_ZN12linkerd_stack4Oneshot4poll17h0123456789abcdefE", hyperPollRead}, tokioRoot), profile.ProxyOther},
		{"h2 hpack", nil, []string{"h2::hpack::decoder::Decoder::decode", "h2::codec::framed_read::decode_frame"}, profile.Parsing},
		{"authz", nil, []string{"linkerd_app_inbound::policy::http::HttpPolicyService::check_authorized", hyperPollRead}, profile.Filters},
		{"recv", kRecvfrom, stack([]string{"recvfrom"}, tokioRoot), profile.SocketRead},
		{"tokio", nil, tokioRoot, profile.ProxyOther},
	})
}

func TestZtunnel(t *testing.T) {
	runCases(t, "ztunnel", []stackCase{
		{"boring", nil, []string{"aes_hw_ctr32_encrypt_blocks", "SSL_write", "tokio_boring::SslStream::poll_write"}, profile.TLS},
		{"rustls", nil, []string{"rustls::conn::ConnectionCommon::write_tls"}, profile.TLS},
		{"hbone h2", nil, []string{"h2::proto::streams::send::Send::send_data", "ztunnel::proxy::h2::H2StreamWriteHalf::poll_write", "ztunnel::copy::copy_bidirectional"}, profile.Parsing},
		{"rbac", nil, []string{"ztunnel::rbac::Authorization::matches", "ztunnel::proxy::inbound::Inbound::run"}, profile.Filters},
		{"copy", nil, []string{"ztunnel::copy::copy_bidirectional"}, profile.ProxyOther},
		{"copy write", kSendto, []string{"__send", "ztunnel::copy::copy_bidirectional"}, profile.SocketWrite},
	})
}

func TestHAProxy(t *testing.T) {
	root := []string{"run_tasks_from_lists", "process_runnable_tasks", "run_poll_loop", "run_thread_poll_loop", "main"}
	runCases(t, "haproxy", []stackCase{
		{"h1 headers", nil, stack([]string{"h1_parse_msg_hdrs", "", "", "h1_io_cb"}, root), profile.Parsing},
		{"htx", nil, stack([]string{"htx_xfer_blks", ""}, root), profile.Parsing},
		{"lua", nil, stack([]string{"hlua_ctx_resume", "", "process_stream"}, root), profile.Filters},
		{"stream", nil, stack([]string{"", "process_stream"}, root), profile.ProxyOther},
		{"recv under mux", kRecvfrom, stack([]string{"recv", "", "", "h1_io_cb"}, root), profile.SocketRead},
		{"ssl wrapper", nil, stack([]string{"SSL_read", "", "h1_io_cb"}, root), profile.TLS},
		{"poll", kEpollWait, stack([]string{"epoll_wait", ""}, root), profile.Epoll},
	})
	// With modules: Debian's haproxy is partially stripped and OpenSSL
	// (stripped too) is a shared library.
	r, _ := Load("haproxy")
	ssl := []symbolize.Frame{{Module: "libcrypto.so.3", Offset: 0x1234}, {Module: "libssl.so.3", Offset: 0x99}, {Module: "haproxy", Offset: 0x5555}, {Function: "h1_io_cb", Module: "haproxy"}, {Function: "run_poll_loop", Module: "haproxy"}}
	if c := r.ClassifyFrames(nil, ssl); c != profile.TLS {
		t.Errorf("haproxy ssl frames = %s, want tls", c)
	}
	lua := []symbolize.Frame{{Module: "liblua5.3.so.0"}, {Function: "process_stream", Module: "haproxy"}}
	if c := r.ClassifyFrames(nil, lua); c != profile.Filters {
		t.Errorf("haproxy lua frames = %s, want filters", c)
	}
}

func TestNginx(t *testing.T) {
	root := []string{"ngx_epoll_process_events", "ngx_process_events_and_timers", "ngx_worker_process_cycle", "ngx_spawn_process", "main"}
	runCases(t, "nginx", []stackCase{
		{"request line", nil, stack([]string{"ngx_http_parse_request_line", "", ""}, root), profile.Parsing},
		{"huffman", nil, stack([]string{"ngx_http_huff_decode", ""}, root), profile.Parsing},
		{"phases from parser", nil, stack([]string{"", "ngx_http_core_run_phases", "ngx_http_handler", "ngx_http_process_request", "", "ngx_http_parse_header_line"}, root), profile.ProxyOther},
		{"upstream", nil, stack([]string{"memcpy", "ngx_http_upstream_init"}, root), profile.ProxyOther},
		{"ssl", nil, stack([]string{"SSL_write", "ngx_ssl_send_chain"}, root), profile.TLS},
		{"writev", kWritev, stack([]string{"writev", "ngx_writev", "ngx_linux_sendfile_chain"}, root), profile.SocketWrite},
	})
}

func TestClassifyFramesApp(t *testing.T) {
	r, err := Load("envoy")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		user []symbolize.Frame
		want profile.Component
	}{
		{"app", []symbolize.Frame{{Function: "main.handler", Module: "server"}, {Function: "runtime.goexit", Module: "server"}}, App},
		{"proxy", []symbolize.Frame{{Module: "envoy"}, {Function: "main", Module: "envoy"}}, profile.ProxyOther},
		{"libc only, no proxy module", []symbolize.Frame{{Function: "free", Module: "libc.so.6"}}, App},
		{"pseudo modules", []symbolize.Frame{{Module: "[vdso]"}, {}}, profile.ProxyOther},
		{"no frames", nil, profile.ProxyOther},
		{"rule wins over app", []symbolize.Frame{{Function: "SSL_read", Module: "server"}}, profile.TLS},
	}
	for _, tc := range cases {
		if got := r.ClassifyFrames(nil, tc.user); got != tc.want {
			t.Errorf("%s: ClassifyFrames = %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestAggregate(t *testing.T) {
	r, err := Load("envoy")
	if err != nil {
		t.Fatal(err)
	}
	frames := func(names ...string) []symbolize.Frame {
		out := make([]symbolize.Frame, len(names))
		for i, n := range names {
			out[i] = symbolize.Frame{Function: n, Module: "envoy"}
		}
		return out
	}
	got := r.Aggregate([]Sample{
		{Kernel: kWritev, User: frames(envoyWritePath...), Count: 5},
		{Kernel: kWritev, User: frames(envoyTLSWrite...), Count: 2},
		{User: frames(envoyParse...), Count: 3},
		{Kernel: kEpollWait, Count: 1},
		{User: frames(envoyRoot...), Count: 4},
		{Count: 1},
	})
	want := map[profile.Component]uint64{profile.SocketWrite: 7, profile.Parsing: 3, profile.Epoll: 1, profile.ProxyOther: 5}
	if len(got) != len(want) {
		t.Errorf("Aggregate = %v, want %v", got, want)
	}
	for c, n := range want {
		if got[c] != n {
			t.Errorf("Aggregate[%s] = %d, want %d (all: %v)", c, got[c], n, got)
		}
	}
}

func TestDemangle(t *testing.T) {
	cases := map[string]string{
		balsaExecute:     "Envoy::Http::Http1::BalsaParser::execute",
		hcmDecodeHeaders: "Envoy::Http::ConnectionManagerImpl::ActiveStream::decodeHeaders",
		rustlsRead:       "<rustls::conn::ConnectionCommon<T> as std::io::Read>::read",
		httparseHeaders:  "httparse::parse_headers_iter",
		"SSL_read":       "SSL_read",
		"_Znot-a-name":   "_Znot-a-name",
		"_R":             "_R",
		"":               "",
	}
	for in, want := range cases {
		if got := Demangle(in); got != want {
			t.Errorf("Demangle(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestValidation(t *testing.T) {
	const head = "proxy: caddy\nrules:\n- component: parsing\n  user: {prefix: [caddyhttp.]}\n"
	cases := []struct{ name, yaml, want string }{
		{"unknown component", head + "- name: bad\n  component: parse\n  user: {exact: [x]}\n", `rules[1] (bad): unknown component "parse"`},
		{"sched-wait", head + "- component: sched-wait\n  kernel: {exact: [schedule]}\n", `rules[1]: component "sched-wait" is measured from scheduler events`},
		{"app allowed", head + "- component: app\n  module: {exact: [server]}\n", ""},
		{"bad regex", head + "- component: tls\n  user: {regex: ['([a-z']}\n", `rules[1]: regex "([a-z"`},
		{"bad inside regex", head + "- component: tls\n  user: {exact: [a]}\n  inside: {regex: ['(']}\n", `rules[1]: inside: regex "("`},
		{"two targets", head + "- component: tls\n  user: {exact: [a]}\n  kernel: {exact: [b]}\n", "rules[1]: want exactly one of kernel, user and module, got 2"},
		{"no target", head + "- component: tls\n", "rules[1]: want exactly one of kernel, user and module, got 0"},
		{"empty match", head + "- component: tls\n  user: {}\n", "rules[1]: match has no patterns"},
		{"empty pattern", head + "- component: tls\n  user: {prefix: ['']}\n", "rules[1]: empty pattern"},
		{"unknown field", head + "- component: tls\n  user: {prefx: [a]}\n", `unknown field "prefx"`},
		{"no proxy", "rules:\n- component: tls\n  user: {exact: [a]}\n", "proxy is empty"},
		{"no rules", "proxy: caddy\n", "no rules"},
		{"bad modules", "modules: {regex: ['[']}\n" + head, `modules: regex "["`},
		{"not yaml", "proxy: [", "rules file caddy.yaml"},
	}
	for _, tc := range cases {
		_, err := ParseFile("caddy.yaml", []byte(tc.yaml))
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: unexpected error %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "caddy.yaml")):
			t.Errorf("%s: error = %v, want file name and %q", tc.name, err, tc.want)
		}
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "caddy.yaml")
	const file = `proxy: caddy
modules: {exact: [caddy]}
rules:
  - component: tls
    user: {prefix: [crypto/tls.]}
  # A helper counts as parsing only when the HTTP server's reader called it.
  - name: header-helper
    component: parsing
    user: {exact: [net/textproto.CanonicalMIMEHeaderKey]}
    inside: {prefix: [net/http.readRequest]}
`
	if err := os.WriteFile(path, []byte(file), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cases := []stackCase{
		{"tls", nil, []string{"crypto/tls.(*Conn).Read"}, profile.TLS},
		{"inside reader", nil, []string{"net/textproto.CanonicalMIMEHeaderKey", "net/textproto.(*Reader).ReadMIMEHeader", "net/http.readRequest"}, profile.Parsing},
		{"outside reader", nil, []string{"net/textproto.CanonicalMIMEHeaderKey", "github.com/caddyserver/caddy/v2.handler"}, profile.ProxyOther},
		{"inside is rootward only", nil, []string{"net/http.readRequest", "net/textproto.CanonicalMIMEHeaderKey"}, profile.ProxyOther},
		{"kernel rules merged", kSendto, nil, profile.SocketWrite},
	}
	for _, tc := range cases {
		if got := r.Classify(tc.kernel, tc.user); got != tc.want {
			t.Errorf("%s: Classify = %s, want %s", tc.name, got, tc.want)
		}
	}
	if _, err := LoadFile(filepath.Join(dir, "missing.yaml")); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("LoadFile(missing) error = %v", err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("proxy: x\nrules:\n- component: nope\n  user: {exact: [a]}\n"), 0o644)
	if _, err := LoadFile(bad); err == nil || !strings.Contains(err.Error(), "bad.yaml: rules[0]") {
		t.Errorf("LoadFile(bad) error = %v", err)
	}
}

// TestOddInput feeds names that are not symbols; nothing may panic.
func TestOddInput(t *testing.T) {
	r, err := Load("envoy")
	if err != nil {
		t.Fatal(err)
	}
	odd := []string{"", "_Z", "_R", "_ZN", "_ZN5Envoy", "_RNv", strings.Repeat("_ZN1a", 2000), "\x00\xff", "[unknown]", "0xffffffff81000000"}
	for _, n := range odd {
		r.Classify([]string{n}, []string{n})
		r.ClassifyFrames([]string{n}, []symbolize.Frame{{Function: n, Module: n}})
	}
	r.Aggregate(nil)
	r.Aggregate([]Sample{{}})
}

func BenchmarkClassifyEnvoy(b *testing.B) {
	r, err := Load("envoy")
	if err != nil {
		b.Fatal(err)
	}
	user := stack([]string{"lua_pushlstring", luaDecodeHeaders, fmDecodeHeaders, hcmDecodeHeaders, onHeadersComplete}, envoyParse, envoyRoot)
	for b.Loop() {
		r.Classify(kLoopbackInSend, user)
	}
}

func TestExplain(t *testing.T) {
	r, err := Load("envoy")
	if err != nil {
		t.Fatal(err)
	}
	d := r.Explain(kLoopbackInSend, envoyWritePath)
	if d.Component != profile.Loopback || d.Rule != "loopback-veth-delivery" || !d.Kernel || kLoopbackInSend[d.Frame] != "process_backlog" {
		t.Errorf("Explain(loopback) = %+v", d)
	}
	d = r.Explain(nil, stack(envoyParse, envoyRoot))
	if d.Component != profile.Parsing || d.Rule != "http-codec" || d.Kernel || d.Frame != 0 {
		t.Errorf("Explain(parse) = %+v", d)
	}
	if d = r.Explain(nil, envoyRoot); d.Component != profile.ProxyOther || d.Frame != -1 || d.Rule != "" {
		t.Errorf("Explain(root) = %+v", d)
	}
}
