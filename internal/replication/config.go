package replication

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"regexp"
	"time"
)

// Defaults of Config.
const (
	SlotDefault                 = "vendorhub"
	PublicationDefault          = "vendorhub"
	StatusIntervalDefault       = 10 * time.Second
	AckIntervalDefault          = time.Second
	ReceiveTimeoutDefault       = 30 * time.Second
	HeartbeatIntervalDefault    = 15 * time.Second
	ReconnectMinDefault         = 250 * time.Millisecond
	ReconnectMaxDefault         = 15 * time.Second
	StandbyRetryDefault         = 2 * time.Second
	QueueSizeDefault            = 65536
	QueueBytesDefault           = 32 << 20
	BatchMaxTransactionsDefault = 1000
	BatchMaxEventsDefault       = 10000
	ShutdownTimeoutDefault      = 10 * time.Second
)

// Config configures a Stream.
type Config struct {
	// ConnString is the regular (non-replication) URL of the database, e.g. DATABASE_URL;
	// the Stream adds replication=database itself. Required.
	ConnString string
	// Slot is the logical replication slot (pgoutput), created if missing. Only a-z, 0-9
	// and _ are allowed. Defaults to "vendorhub".
	Slot string
	// Publication is the publication streamed. Only a-z, 0-9 and _ are allowed. Defaults
	// to "vendorhub".
	Publication string
	// InstanceID is the application_name of the replication connection; with the backend
	// pid it identifies this instance's own lingering walsender after a half-open
	// connection. Unique per process. Defaults to "vendorhub-<hostname>-<pid>-<random>".
	InstanceID string
	// StatusInterval is the time between standby status updates (each asks the server to
	// reply, so a live connection always has traffic). Must be below half of the server's
	// wal_sender_timeout. Defaults to 10s.
	StatusInterval time.Duration
	// AckInterval is the minimum time between two extra status updates sent because the
	// acknowledged position advanced. Defaults to 1s.
	AckInterval time.Duration
	// ReceiveTimeout is how long the connection may stay silent before it is taken for
	// dead (half-open) and replaced. Must exceed 2×StatusInterval. Defaults to 30s.
	ReceiveTimeout time.Duration
	// HeartbeatInterval is the time between heartbeat events the leader emits so an idle
	// database still moves the slot. Defaults to 15s.
	HeartbeatInterval time.Duration
	// ReconnectMin and ReconnectMax bound the exponential back-off (with jitter) between
	// reconnects after a failure. Default to 250ms and 15s.
	ReconnectMin, ReconnectMax time.Duration
	// StandbyRetry is the time between attempts of a hot standby to take the slot while
	// another instance streams it. Defaults to 2s.
	StandbyRetry time.Duration
	// QueueSize bounds the decoded transactions waiting for their hand-off, and QueueBytes
	// their estimated memory (a single larger transaction still passes alone); when either
	// is reached, reading stops and back-pressure lands in the slot. Broadcasts run ahead of
	// the hand-off by what the queue holds. Default to 65536 and 32 MiB.
	QueueSize  int
	QueueBytes int
	// BatchMaxTransactions bounds the source transactions of one hand-off. Defaults to 1000.
	BatchMaxTransactions int
	// BatchMaxEvents bounds the changes and messages of one hand-off (a single larger
	// transaction is still handed off whole). Defaults to 10000.
	BatchMaxEvents int
	// BatchWait is how long a hand-off waits for more transactions after the first; 0
	// takes what is queued at once (batches still grow under load). Defaults to 0.
	BatchWait time.Duration
	// MaxBufferedChanges bounds the decoder's buffered changes of uncommitted transactions
	// (decode.Options). Defaults to decode.MaxBufferedChangesDefault.
	MaxBufferedChanges int
	// ShutdownTimeout bounds the final hand-off and status update when Run's context ends.
	// Defaults to 10s.
	ShutdownTimeout time.Duration
	// Logger receives the stream's logs. Defaults to slog.Default().
	Logger *slog.Logger
}

// WithDefaults returns a copy of c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	c.Slot = cmp.Or(c.Slot, SlotDefault)
	c.Publication = cmp.Or(c.Publication, PublicationDefault)
	if c.InstanceID == "" {
		c.InstanceID = DefaultInstanceID()
	}
	c.StatusInterval = cmp.Or(c.StatusInterval, StatusIntervalDefault)
	c.AckInterval = cmp.Or(c.AckInterval, AckIntervalDefault)
	c.ReceiveTimeout = cmp.Or(c.ReceiveTimeout, ReceiveTimeoutDefault)
	c.HeartbeatInterval = cmp.Or(c.HeartbeatInterval, HeartbeatIntervalDefault)
	c.ReconnectMin = cmp.Or(c.ReconnectMin, ReconnectMinDefault)
	c.ReconnectMax = cmp.Or(c.ReconnectMax, ReconnectMaxDefault)
	c.StandbyRetry = cmp.Or(c.StandbyRetry, StandbyRetryDefault)
	c.QueueSize = cmp.Or(c.QueueSize, QueueSizeDefault)
	c.QueueBytes = cmp.Or(c.QueueBytes, QueueBytesDefault)
	c.BatchMaxTransactions = cmp.Or(c.BatchMaxTransactions, BatchMaxTransactionsDefault)
	c.BatchMaxEvents = cmp.Or(c.BatchMaxEvents, BatchMaxEventsDefault)
	c.ShutdownTimeout = cmp.Or(c.ShutdownTimeout, ShutdownTimeoutDefault)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// DefaultInstanceID returns "vendorhub-<hostname>-<pid>-<4 random hex digits>".
func DefaultInstanceID() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("vendorhub-%s-%d-%04x", cmp.Or(host, "host"), os.Getpid(), rand.N(1<<16))
}

var identRE = regexp.MustCompile(`^[a-z0-9_]{1,63}$`)

// Validate reports the first invalid field of a defaulted Config.
func (c Config) Validate() error {
	switch {
	case c.ConnString == "":
		return errors.New("replication: ConnString (DATABASE_URL) is required")
	case !identRE.MatchString(c.Slot):
		return fmt.Errorf("replication: Slot %q: use 1-63 characters of a-z, 0-9 and _", c.Slot)
	case !identRE.MatchString(c.Publication):
		return fmt.Errorf("replication: Publication %q: use 1-63 characters of a-z, 0-9 and _", c.Publication)
	case c.StatusInterval < 0 || c.AckInterval < 0 || c.HeartbeatInterval < 0 || c.BatchWait < 0:
		return errors.New("replication: intervals may not be negative")
	case c.ReceiveTimeout <= 2*c.StatusInterval:
		return fmt.Errorf("replication: ReceiveTimeout %s must exceed 2×StatusInterval (%s)", c.ReceiveTimeout, 2*c.StatusInterval)
	case c.ReconnectMax < c.ReconnectMin:
		return fmt.Errorf("replication: ReconnectMax %s is below ReconnectMin %s", c.ReconnectMax, c.ReconnectMin)
	case c.QueueSize < 1 || c.QueueBytes < 1 || c.BatchMaxTransactions < 1 || c.BatchMaxEvents < 1:
		return errors.New("replication: QueueSize, QueueBytes, BatchMaxTransactions and BatchMaxEvents must be positive")
	}
	return nil
}
