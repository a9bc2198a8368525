// Command otlpsink is an OTLP/HTTP receiver that reads and discards what it
// is sent, for benchmarks with telemetry on (bench/http/otel.sh): it answers
// every POST /v1/traces, /v1/metrics and /v1/logs with 200 and prints, on
// SIGTERM, how many requests and bytes it received.
//
//	go run ./bench/otlpsink 127.0.0.1:4318
package main

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
)

func main() {
	addr := "127.0.0.1:4318"
	if len(os.Args) > 1 {
		addr = os.Args[1]
	}
	var requests, bytes atomic.Int64
	http.HandleFunc("POST /v1/", func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		requests.Add(1)
		bytes.Add(n)
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	})
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
		<-sig
		fmt.Printf("otlpsink: %d requests, %d bytes\n", requests.Load(), bytes.Load())
		os.Exit(0)
	}()
	log.Fatal(http.ListenAndServe(addr, nil))
}
