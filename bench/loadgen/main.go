// The benchmark's load generator: grpc-go with a pass-through codec, so it sends request bytes
// encoded once up front and never decodes an answer (it counts bytes, and for watch streams looks
// at the first tag byte and for a marker string). Built offline from Debian's grpc-go in GOPATH
// mode by build.sh; driven by bench/loadgen.ts. Prints one JSON object per report on stdout.
//
//	unary, closed loop:  -targets A,B -request B64 -conns 4 -inflight 32 -duration 5s
//	unary, open loop:    ... -rate 8000 (requests/s; latency measured from each request's planned start)
//	unary, fixed count:  ... -requests 1000 -inflight 1000 (every request at once, then stop)
//	watch:               -mode watch -method /…/WatchSecret -streams 50000 -conns 50 -open-rate 2000 -want VERSION
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io/ioutil"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// rawCodec hands grpc-go the bytes it is given and keeps the bytes it receives.
type rawCodec struct{}

func (rawCodec) Marshal(v interface{}) ([]byte, error)      { return *(v.(*[]byte)), nil }
func (rawCodec) Unmarshal(data []byte, v interface{}) error { *(v.(*[]byte)) = data; return nil }
func (rawCodec) Name() string                               { return "proto" }

var codec = grpc.ForceCodec(rawCodec{})

type options struct {
	targets                      []string
	method                       string
	request                      []byte
	conns, inflight, requests    int
	rate                         float64
	duration, warmup             time.Duration
	streams                      int
	openRate                     float64
	want                         []byte
	readyTimeout, deliverTimeout time.Duration
	caFile, certFile, keyFile    string
	serverName                   string
}

func fail(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "loadgen: "+format+"\n", a...)
	os.Exit(2)
}

func parse() (string, options) {
	var o options
	mode := flag.String("mode", "unary", "unary | watch")
	targets := flag.String("targets", "", "host:port[,host:port…]; connections are spread over them")
	flag.StringVar(&o.method, "method", "/secretsgateway.v1.SecretsGatewayService/GetSecret", "full method name")
	req := flag.String("request", "", "the request message, protobuf-encoded, base64")
	flag.IntVar(&o.conns, "conns", 4, "HTTP/2 connections")
	flag.IntVar(&o.inflight, "inflight", 32, "calls in flight at once, over all connections (open loop: the most outstanding)")
	flag.IntVar(&o.requests, "requests", 0, "unary: send exactly this many, then stop (instead of -duration)")
	flag.Float64Var(&o.rate, "rate", 0, "unary: open loop at this many requests/s (0: closed loop)")
	flag.DurationVar(&o.duration, "duration", 5*time.Second, "unary: measured duration")
	flag.DurationVar(&o.warmup, "warmup", time.Second, "unary: load before measuring, not counted")
	flag.IntVar(&o.streams, "streams", 1000, "watch: streams to open")
	flag.Float64Var(&o.openRate, "open-rate", 0, "watch: open this many streams per second (0: all at once)")
	want := flag.String("want", "", "watch: a Secret message containing these bytes is the awaited delivery")
	flag.DurationVar(&o.readyTimeout, "ready-timeout", 120*time.Second, "watch: longest wait for every stream's first message")
	flag.DurationVar(&o.deliverTimeout, "deliver-timeout", 60*time.Second, "watch: longest wait for every delivery")
	flag.StringVar(&o.caFile, "ca", "", "TLS: CA bundle (PEM) that signs the server certificate; unset: plaintext")
	flag.StringVar(&o.certFile, "cert", "", "mTLS: client certificate (PEM)")
	flag.StringVar(&o.keyFile, "key", "", "mTLS: client key (PEM)")
	flag.StringVar(&o.serverName, "server-name", "localhost", "TLS: the name the server certificate must carry")
	flag.Parse()
	if *targets == "" {
		fail("-targets is required")
	}
	o.targets = strings.Split(*targets, ",")
	b, err := base64.StdEncoding.DecodeString(*req)
	if err != nil {
		fail("-request is not base64: %v", err)
	}
	o.request = b
	o.want = []byte(*want)
	if o.conns < 1 || o.inflight < 1 {
		fail("-conns and -inflight must be at least 1")
	}
	return *mode, o
}

func dial(o options) []*grpc.ClientConn {
	opts := []grpc.DialOption{grpc.WithBlock(), grpc.WithReadBufferSize(64 << 10), grpc.WithWriteBufferSize(64 << 10)}
	if o.caFile == "" {
		opts = append(opts, grpc.WithInsecure())
	} else {
		pem, err := ioutil.ReadFile(o.caFile)
		if err != nil {
			fail("read -ca: %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			fail("-ca holds no certificate")
		}
		cfg := &tls.Config{RootCAs: pool, ServerName: o.serverName}
		if o.certFile != "" {
			pair, err := tls.LoadX509KeyPair(o.certFile, o.keyFile)
			if err != nil {
				fail("load -cert/-key: %v", err)
			}
			cfg.Certificates = []tls.Certificate{pair}
		}
		opts = append(opts, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	}
	conns := make([]*grpc.ClientConn, o.conns)
	for i := range conns {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		cc, err := grpc.DialContext(ctx, o.targets[i%len(o.targets)], opts...)
		cancel()
		if err != nil {
			fail("dial %s: %v", o.targets[i%len(o.targets)], err)
		}
		conns[i] = cc
	}
	return conns
}

// cpuMs is this process's user+system CPU time so far.
func cpuMs() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e6
}

func emit(v map[string]interface{}) {
	b, _ := json.Marshal(v)
	fmt.Println(string(b))
}

func main() {
	mode, o := parse()
	conns := dial(o)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	switch mode {
	case "unary":
		emit(runUnary(o, conns))
	case "watch":
		runWatch(o, conns)
	default:
		fail("unknown -mode %q", mode)
	}
}

// tally is what the unary workers share; latencies are kept per worker and merged at the end.
type tally struct {
	errors    int64
	respBytes int64
	mu        sync.Mutex
	lat       []int64
	errSample string
}

func (t *tally) call(cc *grpc.ClientConn, o options) error {
	var resp []byte
	err := cc.Invoke(context.Background(), o.method, &o.request, &resp, codec)
	if err != nil {
		if atomic.AddInt64(&t.errors, 1) == 1 {
			t.mu.Lock()
			t.errSample = err.Error()
			t.mu.Unlock()
		}
		return err
	}
	atomic.AddInt64(&t.respBytes, int64(len(resp)))
	return nil
}

func (t *tally) keep(lat []int64) {
	t.mu.Lock()
	t.lat = append(t.lat, lat...)
	t.mu.Unlock()
}

func runUnary(o options, conns []*grpc.ClientConn) map[string]interface{} {
	if o.warmup > 0 && o.requests == 0 {
		closedLoop(o, conns, &tally{}, time.Now().Add(o.warmup), 0)
	}
	t := &tally{}
	cpu0, t0 := cpuMs(), time.Now()
	switch {
	case o.requests > 0:
		closedLoop(o, conns, t, time.Time{}, o.requests)
	case o.rate > 0:
		openLoop(o, conns, t, t0.Add(o.duration))
	default:
		closedLoop(o, conns, t, t0.Add(o.duration), 0)
	}
	wall := time.Since(t0)
	cpu := cpuMs() - cpu0
	sort.Slice(t.lat, func(i, j int) bool { return t.lat[i] < t.lat[j] })
	q := func(p float64) float64 {
		if len(t.lat) == 0 {
			return 0
		}
		i := int(p * float64(len(t.lat)))
		if i >= len(t.lat) {
			i = len(t.lat) - 1
		}
		return float64(t.lat[i]) / 1e6
	}
	n := len(t.lat)
	avgBytes := 0.0
	if n > 0 {
		avgBytes = float64(t.respBytes) / float64(n)
	}
	return map[string]interface{}{
		"rps": float64(n) / wall.Seconds(), "p50": q(0.5), "p99": q(0.99), "errors": t.errors, "count": n,
		"respBytes": avgBytes, "wallMs": float64(wall) / 1e6, "cpuMs": cpu, "errorSample": t.errSample,
	}
}

// closedLoop keeps o.inflight calls going until `end`, or until `total` calls were sent.
func closedLoop(o options, conns []*grpc.ClientConn, t *tally, end time.Time, total int) {
	var sent int64
	var wg sync.WaitGroup
	for w := 0; w < o.inflight; w++ {
		wg.Add(1)
		go func(cc *grpc.ClientConn) {
			defer wg.Done()
			lat := make([]int64, 0, 4096)
			for {
				if total > 0 {
					if atomic.AddInt64(&sent, 1) > int64(total) {
						break
					}
				} else if !time.Now().Before(end) {
					break
				}
				s := time.Now()
				if t.call(cc, o) == nil {
					lat = append(lat, int64(time.Since(s)))
				}
			}
			t.keep(lat)
		}(conns[w%len(conns)])
	}
	wg.Wait()
}

// openLoop starts calls at o.rate per second whatever the answers do; each latency counts from the
// call's planned start, so a stall shows in the tail instead of slowing the sender down.
func openLoop(o options, conns []*grpc.ClientConn, t *tally, end time.Time) {
	sem := make(chan struct{}, o.inflight)
	var wg sync.WaitGroup
	var mu sync.Mutex
	lat := make([]int64, 0, int(o.rate*o.duration.Seconds())+16)
	start := time.Now()
	interval := time.Duration(float64(time.Second) / o.rate)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	issued := 0
	for now := start; now.Before(end); now = <-tick.C {
		due := int(float64(now.Sub(start)) / float64(interval))
		for ; issued < due; issued++ {
			planned := start.Add(time.Duration(issued) * interval)
			select {
			case sem <- struct{}{}:
			default:
				atomic.AddInt64(&t.errors, 1) // more than -inflight outstanding: the target cannot keep up
				continue
			}
			wg.Add(1)
			go func(cc *grpc.ClientConn) {
				defer func() { <-sem; wg.Done() }()
				if t.call(cc, o) == nil {
					d := int64(time.Since(planned))
					mu.Lock()
					lat = append(lat, d)
					mu.Unlock()
				}
			}(conns[issued%len(conns)])
		}
	}
	wg.Wait()
	t.keep(lat)
}

// runWatch opens o.streams streams spread over the connections, reports once every stream had its
// first message, then reports when each received the Secret message carrying o.want.
func runWatch(o options, conns []*grpc.ClientConn) {
	var opened, first, errs, heartbeats, delivered int64
	var firstNs, lastNs int64 = 1<<63 - 1, 0
	var mu sync.Mutex
	var errSample string
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	t0 := time.Now()
	for i := 0; i < o.streams; i++ {
		if o.openRate > 0 {
			time.Sleep(time.Until(t0.Add(time.Duration(float64(i) / o.openRate * float64(time.Second)))))
		}
		go func(cc *grpc.ClientConn) {
			cs, err := cc.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, o.method, codec)
			if err == nil {
				err = cs.SendMsg(&o.request)
			}
			if err == nil {
				err = cs.CloseSend()
			}
			if err != nil {
				recordErr(&errs, &mu, &errSample, err)
				return
			}
			atomic.AddInt64(&opened, 1)
			got, done := false, false
			for {
				var m []byte
				if err := cs.RecvMsg(&m); err != nil {
					if ctx.Err() == nil {
						recordErr(&errs, &mu, &errSample, err)
					}
					return
				}
				if !got {
					got = true
					atomic.AddInt64(&first, 1)
				}
				// Tag byte 0x0a: field 1 (secret); 0x12: field 2 (heartbeat).
				if len(m) > 0 && m[0] == 0x12 {
					atomic.AddInt64(&heartbeats, 1)
				} else if !done && len(o.want) > 0 && bytes.Contains(m, o.want) {
					done = true
					now := time.Now().UnixNano()
					mu.Lock()
					if now < firstNs {
						firstNs = now
					}
					if now > lastNs {
						lastNs = now
					}
					mu.Unlock()
					atomic.AddInt64(&delivered, 1)
				}
			}
		}(conns[i%len(conns)])
	}
	waitFor := func(cond func() bool, timeout time.Duration) {
		end := time.Now().Add(timeout)
		for !cond() && time.Now().Before(end) {
			time.Sleep(5 * time.Millisecond)
		}
	}
	settled := func() bool { return atomic.LoadInt64(&first)+atomic.LoadInt64(&errs) >= int64(o.streams) }
	waitFor(settled, o.readyTimeout)
	mu.Lock()
	emit(map[string]interface{}{"event": "ready", "streams": o.streams, "opened": atomic.LoadInt64(&opened), "firstMessages": atomic.LoadInt64(&first),
		"errors": atomic.LoadInt64(&errs), "openMs": float64(time.Since(t0)) / 1e6, "errorSample": errSample, "cpuMs": cpuMs()})
	mu.Unlock()
	if len(o.want) == 0 {
		return
	}
	live := atomic.LoadInt64(&first)
	waitFor(func() bool { return atomic.LoadInt64(&delivered) >= live }, o.deliverTimeout)
	mu.Lock()
	defer mu.Unlock()
	out := map[string]interface{}{"event": "delivered", "delivered": atomic.LoadInt64(&delivered), "expected": live, "errors": atomic.LoadInt64(&errs),
		"heartbeats": atomic.LoadInt64(&heartbeats), "errorSample": errSample, "cpuMs": cpuMs()}
	if lastNs > 0 {
		out["firstUnixMs"] = float64(firstNs) / 1e6
		out["lastUnixMs"] = float64(lastNs) / 1e6
	}
	emit(out)
}

func recordErr(n *int64, mu *sync.Mutex, sample *string, err error) {
	if atomic.AddInt64(n, 1) == 1 {
		mu.Lock()
		*sample = err.Error()
		mu.Unlock()
	}
}
