package main

import (
	"context"
	"fmt"
	"os/exec"

	"github.com/wedsync/vendorhub/internal/embeddedpg"
	"github.com/wedsync/vendorhub/internal/pgtest"
)

type Env struct{ c *embeddedpg.Cluster }

func (e *Env) NewDB(ctx context.Context, seeded bool) (*pgtest.DB, error) {
	db, _, err := pgtest.CreateDB(ctx, e.c.URL("postgres"), seeded)
	return db, err
}
func (e *Env) Record(n string, v float64)        { fmt.Printf("%s %g\n", n, v) }
func (e *Env) Logf(f string, a ...any)           { fmt.Printf(f+"\n", a...) }
func register(string, func(context.Context, *Env) error) {}
func buildVendorhub(context.Context) (string, error)     { return "", nil }
func peakRSSMiB(int) (float64, error)                    { return 0, nil }
func pct([]float64, float64) float64                     { return 0 }

type rtSidecar struct {
	cmd  *exec.Cmd
	addr string
	done chan struct{}
}

func (s *rtSidecar) stop() {}

type lockedLog struct{}

func (l *lockedLog) Write(p []byte) (int, error) { return len(p), nil }
func (l *lockedLog) String() string              { return "" }

func main() {
	ctx := context.Background()
	c, err := embeddedpg.Start(ctx, embeddedpg.Config{})
	if err != nil {
		panic(err)
	}
	defer c.Stop()
	if err := benchPlanner(ctx, &Env{c: c}); err != nil {
		fmt.Println("ERR", err)
	}
}
