package main

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"

	"github.com/wedsync/vendorhub/internal/embeddedpg"
	"github.com/wedsync/vendorhub/internal/pgtest"
)

type Env struct{ c *embeddedpg.Cluster }

func (e *Env) NewDB(ctx context.Context, seeded bool) (*pgtest.DB, error) {
	db, _, err := pgtest.CreateDB(ctx, e.c.URL("postgres"), seeded)
	return db, err
}
func (e *Env) Record(n string, v float64)          { fmt.Printf("  %-45s %g\n", n, v) }
func (e *Env) Logf(f string, a ...any)             { fmt.Printf("  "+f+"\n", a...) }

func main() {
	ctx := context.Background()
	c, err := embeddedpg.Start(ctx, embeddedpg.Config{})
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	defer c.Stop()
	f, _ := os.Create("/tmp/wh.cpu")
	pprof.StartCPUProfile(f)
	defer pprof.StopCPUProfile()
	if err := benchWebhooks(ctx, &Env{c: c}); err != nil {
		fmt.Println("ERR", err)
	}
}
