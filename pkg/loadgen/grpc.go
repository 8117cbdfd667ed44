package loadgen

import (
	"context"
	"encoding/binary"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
)

// GRPCMethod is the full name of the echo method. The service is described by hand
// (no .proto, no generated code); messages are raw bytes carried by rawCodec.
const GRPCMethod = "/" + grpcServiceName + "/Echo"

const grpcServiceName = "meshinsight.workload.Echo"

// grpcHeaderBytes prefixes every request message with the wanted response length
// (big-endian uint32).
const grpcHeaderBytes = 4

// rawCodec marshals messages as raw bytes. It is forced on both ends (ForceCodecV2,
// ForceServerCodecV2) rather than registered globally, so it cannot replace the
// proto codec of other gRPC users in the same process. Its name makes the content
// type application/grpc+meshinsight-raw, which proxies treat as ordinary gRPC.
type rawCodec struct{}

// rawMessage is what travels: outgoing, head (if set) then size payload bytes;
// incoming, only the first bytes and the total length are kept, so the codec never
// copies a payload.
type rawMessage struct {
	head []byte
	size int
	// filled in by Unmarshal
	received int
	first    [grpcHeaderBytes]byte
}

func (rawCodec) Name() string { return "meshinsight-raw" }

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	m, ok := v.(*rawMessage)
	if !ok {
		return nil, fmt.Errorf("raw codec cannot marshal %T", v)
	}
	out := make(mem.BufferSlice, 0, 2)
	if len(m.head) > 0 {
		out = append(out, mem.SliceBuffer(m.head))
	}
	for n := m.size; n > 0; {
		chunk := min(n, len(zeros))
		// SliceBuffer's Free is a no-op, so gRPC never returns zeros to a pool.
		out = append(out, mem.SliceBuffer(zeros[:chunk]))
		n -= chunk
	}
	return out, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	m, ok := v.(*rawMessage)
	if !ok {
		return fmt.Errorf("raw codec cannot unmarshal into %T", v)
	}
	m.received = data.Len()
	copied := 0
	for _, b := range data {
		if copied == len(m.first) {
			break
		}
		copied += copy(m.first[copied:], b.ReadOnlyData())
	}
	return nil
}

// echoService is the HandlerType of the hand-written service description.
type echoService interface {
	echo(ctx context.Context, in *rawMessage) (*rawMessage, error)
}

var echoServiceDesc = grpc.ServiceDesc{
	ServiceName: grpcServiceName,
	HandlerType: (*echoService)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Echo",
		Handler: func(srv any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
			in := new(rawMessage)
			if err := dec(in); err != nil {
				return nil, err
			}
			return srv.(echoService).echo(ctx, in)
		},
	}},
	Metadata: "meshinsight/workload (hand-written, raw bytes)",
}

func newGRPCServer(s *Server) *grpc.Server {
	gs := grpc.NewServer(
		grpc.ForceServerCodecV2(rawCodec{}),
		grpc.MaxRecvMsgSize(MaxMessageBytes+grpcHeaderBytes),
		grpc.MaxSendMsgSize(MaxMessageBytes),
	)
	gs.RegisterService(&echoServiceDesc, grpcEcho{s})
	return gs
}

// grpcEcho adapts a Server to echoService.
type grpcEcho struct{ s *Server }

func (g grpcEcho) echo(_ context.Context, in *rawMessage) (*rawMessage, error) {
	if in.received < grpcHeaderBytes {
		return nil, status.Errorf(codes.InvalidArgument, "request has %d bytes, want at least the %d-byte response length", in.received, grpcHeaderBytes)
	}
	resp := binary.BigEndian.Uint32(in.first[:])
	if resp > MaxMessageBytes {
		return nil, status.Errorf(codes.InvalidArgument, "response length %d exceeds %d", resp, MaxMessageBytes)
	}
	g.s.beforeReply()
	g.s.record(int64(in.received-grpcHeaderBytes), int64(resp))
	return &rawMessage{size: int(resp)}, nil
}

// grpcClient spreads workers over Connections client connections.
type grpcClient struct {
	cfg   LoadConfig
	conns []*grpc.ClientConn
	head  []byte
}

func newGRPCClient(cfg LoadConfig) (*grpcClient, error) {
	c := &grpcClient{cfg: cfg, head: make([]byte, grpcHeaderBytes)}
	binary.BigEndian.PutUint32(c.head, uint32(cfg.ResponseBytes))
	for range cfg.Connections {
		// passthrough: the address is dialled as given, with no resolver round trip,
		// and each ClientConn keeps exactly one connection.
		conn, err := grpc.NewClient("passthrough:///"+cfg.Target,
			grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithDefaultCallOptions(
				grpc.ForceCodecV2(rawCodec{}),
				grpc.MaxCallRecvMsgSize(MaxMessageBytes),
				grpc.MaxCallSendMsgSize(MaxMessageBytes+grpcHeaderBytes),
			),
		)
		if err != nil {
			c.close()
			return nil, fmt.Errorf("creating grpc client for %s: %w", cfg.Target, err)
		}
		c.conns = append(c.conns, conn)
	}
	return c, nil
}

func (c *grpcClient) do(ctx context.Context, w int) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	out := &rawMessage{}
	in := &rawMessage{head: c.head, size: c.cfg.RequestBytes}
	if err := c.conns[w%len(c.conns)].Invoke(ctx, GRPCMethod, in, out); err != nil {
		return err
	}
	if out.received != c.cfg.ResponseBytes {
		return fmt.Errorf("response message has %d bytes, want %d", out.received, c.cfg.ResponseBytes)
	}
	return nil
}

func (c *grpcClient) close() {
	for _, conn := range c.conns {
		_ = conn.Close()
	}
}
