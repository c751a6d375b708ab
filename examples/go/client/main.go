// A Go client for secrets-gateway, and the conformance scenario the test suite runs.
//
// Built offline from Debian's packages (golang-go, golang-google-grpc-dev,
// golang-google-protobuf-dev, protoc-gen-go, protoc-gen-go-grpc) in GOPATH mode; see
// examples/go/README.md. `scenario` prints one JSON line per step; values are reported as
// SHA-256 digests, never in clear.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	gw "github.com/secrets-gateway/secrets-gateway/gen/go/secretsgateway/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

func valueBytes(s *gw.Secret) []byte {
	if b, ok := s.Value.(*gw.Secret_BinaryValue); ok {
		return b.BinaryValue
	}
	return []byte(s.GetStringValue())
}

func describe(s *gw.Secret) map[string]interface{} {
	kind := "string_value"
	if _, ok := s.Value.(*gw.Secret_BinaryValue); ok {
		kind = "binary_value"
	}
	sum := sha256.Sum256(valueBytes(s))
	return map[string]interface{}{
		"event": "secret", "name": s.Name, "version_id": s.VersionId, "stages": s.VersionStages,
		"kind": kind, "sha256": hex.EncodeToString(sum[:]), "region_id": s.RegionId,
	}
}

func emit(step string, ok bool, fields map[string]interface{}) {
	out := map[string]interface{}{"step": step, "ok": ok}
	for k, v := range fields {
		out[k] = v
	}
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
}

func first(stream gw.SecretsGatewayService_WatchSecretClient) map[string]interface{} {
	msg, err := stream.Recv()
	if err != nil {
		return map[string]interface{}{"event": "error", "error": err.Error()}
	}
	if s := msg.GetSecret(); s != nil {
		return describe(s)
	}
	return map[string]interface{}{"event": "heartbeat", "version_id": msg.GetHeartbeat().GetVersionId()}
}

func expectError(c gw.SecretsGatewayServiceClient, req *gw.GetSecretRequest, step string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := c.GetSecret(ctx, req)
	if err == nil {
		emit(step, false, map[string]interface{}{"error": "expected an error"})
		return
	}
	st := status.Convert(err)
	emit(step, true, map[string]interface{}{"code": codeName(st.Code().String()), "details": st.Message()})
}

// codeName turns grpc-go's "NotFound" into the canonical "NOT_FOUND" the other clients print.
func codeName(s string) string {
	out := []rune{}
	for i, r := range s {
		if i > 0 && r >= 'A' && r <= 'Z' {
			out = append(out, '_')
		}
		if r >= 'a' && r <= 'z' {
			r -= 'a' - 'A'
		}
		out = append(out, r)
	}
	return string(out)
}

func watch(c gw.SecretsGatewayServiceClient, name, last string) (gw.SecretsGatewayService_WatchSecretClient, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	stream, err := c.WatchSecret(ctx, &gw.WatchSecretRequest{Name: name, LastVersionId: last})
	if err != nil {
		cancel()
		fail(err)
	}
	return stream, cancel
}

func scenario(c gw.SecretsGatewayServiceClient, text, binary, missing string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := c.GetSecret(ctx, &gw.GetSecretRequest{Name: text})
	if err != nil {
		fail(err)
	}
	emit("get-text", true, describe(r.Secret))
	r, err = c.GetSecret(ctx, &gw.GetSecretRequest{Name: binary})
	if err != nil {
		fail(err)
	}
	emit("get-binary", true, describe(r.Secret))
	expectError(c, &gw.GetSecretRequest{Name: missing}, "get-missing")
	expectError(c, &gw.GetSecretRequest{Name: "bad name!*", MaxStaleness: durationpb.New(time.Second)}, "get-bad-name")

	stream, stop := watch(c, text, "")
	f := first(stream)
	emit("watch-first", f["event"] == "secret", f)
	var rotated map[string]interface{}
	for {
		msg, err := stream.Recv()
		if err != nil {
			break
		}
		if s := msg.GetSecret(); s != nil && s.VersionId != f["version_id"] {
			rotated = describe(s)
			break
		}
	}
	stop()
	emit("watch-rotated", rotated != nil, rotated)
	if rotated == nil {
		os.Exit(1)
	}
	stream, stop = watch(c, text, rotated["version_id"].(string))
	m := first(stream)
	stop()
	emit("resume-current", m["event"] == "heartbeat" && m["version_id"] == rotated["version_id"], m)
	stream, stop = watch(c, text, f["version_id"].(string))
	m = first(stream)
	stop()
	emit("resume-old", m["event"] == "secret" && m["version_id"] == rotated["version_id"], m)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "error:", err)
	os.Exit(1)
}

func main() {
	target := flag.String("target", "127.0.0.1:50051", "gateway address")
	text := flag.String("text-secret", "", "scenario: a text secret")
	binary := flag.String("binary-secret", "", "scenario: a binary secret")
	missing := flag.String("missing-secret", "conformance/does-not-exist", "scenario: a secret that does not exist")
	flag.Parse()
	// grpc-go 1.33 (Debian 12) predates credentials/insecure.
	conn, err := grpc.Dial(*target, grpc.WithInsecure())
	if err != nil {
		fail(err)
	}
	defer conn.Close()
	c := gw.NewSecretsGatewayServiceClient(conn)
	switch flag.Arg(0) {
	case "get":
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		r, err := c.GetSecret(ctx, &gw.GetSecretRequest{Name: flag.Arg(1)})
		if err != nil {
			fail(err)
		}
		os.Stdout.Write(append(valueBytes(r.Secret), '\n'))
	case "scenario":
		scenario(c, *text, *binary, *missing)
	default:
		fmt.Fprintln(os.Stderr, "usage: client [-target host:port] get NAME | scenario -text-secret N -binary-secret N")
		os.Exit(2)
	}
}
