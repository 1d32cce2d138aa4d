// SPDX-License-Identifier: Apache-2.0

// ttrpc-go-image is the Go side of the ttrpc interop tests: a client and a server of
// grpc.Image/PullImage built on github.com/containerd/ttrpc (Debian's
// golang-github-containerd-ttrpc-dev, built offline in GOPATH mode; see
// tests/integration/test_ttrpc_interop.py for the exact invocation).
//
// Client mode prints {"image_ref": ...} and exits 0, or {"code", "code_name", "message"} and
// exits 1; exit 2 means a usage or connection error.
// Server mode prints "listening ADDR", then one JSON line per call describing what the handler
// saw; SIGINT/SIGTERM shut it down.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/ttrpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The messages of enclave-cc's image.proto (package grpc). There is no generated code for
// them in Debian, so they are declared by hand; gogo/protobuf (ttrpc 1.1.1's codec) marshals
// them by reflection from the struct tags, exactly as it does ttrpc's own Request type.
type PullImageRequest struct {
	Image       string `protobuf:"bytes,1,opt,name=image,proto3"`
	ContainerId string `protobuf:"bytes,2,opt,name=container_id,json=containerId,proto3"`
	SourceCreds string `protobuf:"bytes,3,opt,name=source_creds,json=sourceCreds,proto3"`
}

func (m *PullImageRequest) Reset()         { *m = PullImageRequest{} }
func (m *PullImageRequest) String() string { return fmt.Sprintf("%+v", *m) }
func (*PullImageRequest) ProtoMessage()    {}

type PullImageResponse struct {
	ImageRef string `protobuf:"bytes,1,opt,name=image_ref,json=imageRef,proto3"`
}

func (m *PullImageResponse) Reset()         { *m = PullImageResponse{} }
func (m *PullImageResponse) String() string { return fmt.Sprintf("%+v", *m) }
func (*PullImageResponse) ProtoMessage()    {}

type mdFlag []string

func (m *mdFlag) String() string     { return strings.Join(*m, ",") }
func (m *mdFlag) Set(v string) error { *m = append(*m, v); return nil }

var (
	mode      = flag.String("mode", "client", "client or server")
	addr      = flag.String("addr", "", "unix://PATH, tcp://HOST:PORT or HOST:PORT")
	image     = flag.String("image", "", "PullImageRequest.image")
	cid       = flag.String("cid", "", "PullImageRequest.container_id")
	creds     = flag.String("creds", "", "PullImageRequest.source_creds")
	timeout   = flag.Duration("timeout", 0, "client: call deadline (0 = none)")
	service   = flag.String("service", "grpc.Image", "client: service name")
	method    = flag.String("method", "PullImage", "client: method name")
	delay     = flag.Duration("delay", 0, "server: wait this long (or until the deadline) before answering")
	suffix    = flag.String("suffix", "@go", "server: image_ref = image + suffix")
	failCode  = flag.Int("fail-code", 0, "server: answer every call with this status code")
	failMsg   = flag.String("fail-message", "failed", "server: message for -fail-code")
	metadata  mdFlag
	printLock sync.Mutex
)

func printJSON(v interface{}) {
	b, _ := json.Marshal(v)
	printLock.Lock()
	fmt.Println(string(b))
	printLock.Unlock()
}

func splitAddr(a string) (network, address string) {
	switch {
	case strings.HasPrefix(a, "unix://"):
		return "unix", strings.TrimPrefix(a, "unix://")
	case strings.HasPrefix(a, "tcp://"):
		return "tcp", strings.TrimPrefix(a, "tcp://")
	}
	return "tcp", a
}

func runClient() int {
	network, address := splitAddr(*addr)
	conn, err := net.DialTimeout(network, address, 10*time.Second)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ttrpc-go: %v\n", err)
		return 2
	}
	client := ttrpc.NewClient(conn)
	defer client.Close()

	ctx := context.Background()
	if *timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *timeout)
		defer cancel()
	}
	if len(metadata) > 0 {
		md := ttrpc.MD{}
		for _, kv := range metadata {
			k, v, _ := strings.Cut(kv, "=")
			md.Append(k, v)
		}
		ctx = ttrpc.WithMetadata(ctx, md)
	}

	req := &PullImageRequest{Image: *image, ContainerId: *cid, SourceCreds: *creds}
	var resp PullImageResponse
	if err := client.Call(ctx, *service, *method, req, &resp); err != nil {
		code := status.Code(err)
		msg := err.Error()
		if st, ok := status.FromError(err); ok {
			msg = st.Message()
		} else if errors.Is(err, context.DeadlineExceeded) {
			code = codes.DeadlineExceeded
		}
		printJSON(map[string]interface{}{"code": int(code), "code_name": code.String(), "message": msg})
		return 1
	}
	printJSON(map[string]string{"image_ref": resp.ImageRef})
	return 0
}

func pullImage(ctx context.Context, unmarshal func(interface{}) error) (interface{}, error) {
	var req PullImageRequest
	if err := unmarshal(&req); err != nil {
		return nil, err
	}
	md, _ := ttrpc.GetMetadata(ctx)
	dl, hasDeadline := ctx.Deadline()
	seen := map[string]interface{}{
		"image": req.Image, "container_id": req.ContainerId, "source_creds": req.SourceCreds,
		"metadata": md, "has_deadline": hasDeadline,
	}
	if hasDeadline {
		seen["deadline_in_ms"] = time.Until(dl).Milliseconds()
	}
	printJSON(seen)
	if *delay > 0 {
		select {
		case <-time.After(*delay):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if *failCode != 0 {
		return nil, status.Errorf(codes.Code(*failCode), "%s", *failMsg)
	}
	return &PullImageResponse{ImageRef: req.Image + *suffix}, nil
}

func runServer() int {
	network, address := splitAddr(*addr)
	l, err := net.Listen(network, address)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ttrpc-go: %v\n", err)
		return 2
	}
	s, err := ttrpc.NewServer()
	if err != nil {
		fmt.Fprintf(os.Stderr, "ttrpc-go: %v\n", err)
		return 2
	}
	s.Register("grpc.Image", map[string]ttrpc.Method{"PullImage": pullImage})

	bound := l.Addr().String()
	if network == "unix" {
		bound = "unix://" + bound
	} else {
		bound = "tcp://" + bound
	}
	fmt.Println("listening", bound)

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- s.Serve(context.Background(), l) }()
	select {
	case <-sigs:
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			fmt.Fprintf(os.Stderr, "ttrpc-go: shutdown: %v\n", err)
			return 1
		}
		return 0
	case err := <-done:
		fmt.Fprintf(os.Stderr, "ttrpc-go: serve: %v\n", err)
		return 1
	}
}

func main() {
	flag.Var(&metadata, "md", "client: metadata KEY=VALUE (repeatable)")
	flag.Parse()
	if *addr == "" {
		fmt.Fprintln(os.Stderr, "ttrpc-go: -addr is required")
		os.Exit(2)
	}
	switch *mode {
	case "client":
		os.Exit(runClient())
	case "server":
		os.Exit(runServer())
	}
	fmt.Fprintf(os.Stderr, "ttrpc-go: unknown -mode %q\n", *mode)
	os.Exit(2)
}
