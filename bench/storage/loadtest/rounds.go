package loadtest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Targets are what each round of Rounds must stay under.
type Targets struct {
	// MaxLatency bounds the slowest operation of a round.
	MaxLatency time.Duration
	// MaxGrowth bounds the resident memory growth of a round, in bytes.
	MaxGrowth int64
}

// Rounds runs rounds of n concurrent operations, prints each round's result
// (with the CPU time process serverPID used, when it is not 0), and returns
// an error listing every failed operation and every round over the targets;
// it prints "targets met" otherwise.
func Rounds(ctx context.Context, rounds, n, serverPID int, t Targets, op func(ctx context.Context, i int) error) error {
	var failed []string
	for round := 1; round <= rounds; round++ {
		serverCPU := ProcessCPU(serverPID)
		res, err := Run(ctx, n, op)
		if err != nil {
			return err
		}
		if serverPID != 0 {
			fmt.Printf("round %d: %s server_cpu=%v\n", round, res, ProcessCPU(serverPID)-serverCPU)
		} else {
			fmt.Printf("round %d: %s\n", round, res)
		}
		for _, e := range res.Errors {
			failed = append(failed, e.Error())
		}
		if res.Max() >= t.MaxLatency {
			failed = append(failed, fmt.Sprintf("round %d: slowest operation %v, target under %v", round, res.Max(), t.MaxLatency))
		}
		if res.Growth() >= t.MaxGrowth {
			failed = append(failed, fmt.Sprintf("round %d: RSS grew %d bytes, target under %d", round, res.Growth(), t.MaxGrowth))
		}
	}
	if len(failed) > 0 {
		return errors.New("targets missed:\n" + strings.Join(failed, "\n"))
	}
	fmt.Println("targets met")
	return nil
}
