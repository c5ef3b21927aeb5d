// Package proctest holds what the end-to-end tests share to run the vendorhub binary:
// building it, collecting its output and picking a free port. It is imported by tests only.
package proctest

import (
	"bytes"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// Build compiles cmd/vendorhub to the file out, with the build tags tags (comma-separated, ""
// for none) and with -race when race is set.
func Build(out, tags string, race bool) error {
	args := []string{"build", "-o", out}
	if race {
		args = append(args, "-race")
	}
	if tags != "" {
		args = append(args, "-tags", tags)
	}
	args = append(args, "github.com/wedsync/vendorhub/cmd/vendorhub")
	if b, err := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), args...).CombinedOutput(); err != nil {
		return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, b)
	}
	return nil
}

// Buffer collects a process's output: safe for its stdout and stderr and for String at once.
type Buffer struct {
	mu   sync.Mutex
	b    bytes.Buffer
	wake chan struct{}
}

// Write implements io.Writer.
func (l *Buffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n, err := l.b.Write(p)
	if l.wake != nil {
		close(l.wake)
		l.wake = nil
	}
	return n, err
}

// Changed returns a channel closed at the next write.
func (l *Buffer) Changed() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.wake == nil {
		l.wake = make(chan struct{})
	}
	return l.wake
}

// String returns what was written so far.
func (l *Buffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// FreeAddr returns a 127.0.0.1 address whose port was free a moment ago.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// Addr is FreeAddr failing t on error.
func Addr(t testing.TB) string {
	t.Helper()
	a, err := FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// Port returns the port of Addr(t).
func Port(t testing.TB) string {
	t.Helper()
	_, p, _ := net.SplitHostPort(Addr(t))
	return p
}
