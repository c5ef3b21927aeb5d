package sidecar

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/wedsync/vendorhub/internal/audit"
	"github.com/wedsync/vendorhub/internal/auth"
	"github.com/wedsync/vendorhub/internal/handoff"
	"github.com/wedsync/vendorhub/internal/realtime"
	"github.com/wedsync/vendorhub/internal/realtime/gateway"
	"github.com/wedsync/vendorhub/internal/realtime/store"
)

// Values of RealtimeConfig.Target.
const (
	RealtimeTargetAuto     = "auto"
	RealtimeTargetGateway  = "gateway"
	RealtimeTargetSupabase = "supabase"
	RealtimeTargetOff      = "off"
)

// RealtimeStoreDefault is the default RealtimeConfig.Store: a wedding platform wants the
// messages a sleeping phone missed to come back.
const RealtimeStoreDefault = "on"

// RealtimePruneInterval is how often stored broadcasts older than 72 hours are deleted.
const RealtimePruneInterval = time.Hour

// DevTokenTTL is the lifetime of the user JWTs `vendorhub dev` prints.
const DevTokenTTL = 24 * time.Hour

// RealtimeConfig configures the realtime stage: the publisher of routed events to Realtime
// broadcast channels and the embedded Realtime-compatible gateway.
type RealtimeConfig struct {
	// Gateway serves the embedded gateway (/realtime/v1/websocket, /realtime/v1/api/broadcast)
	// on the HTTP server: "on", "off", or "" for on with `dev` and off with `run`.
	// VENDORHUB_GATEWAY. Defaults to "".
	Gateway string
	// Target is where the sidecar publishes its broadcasts: "gateway" (in-process), "supabase"
	// (REST batch broadcast to SUPABASE_URL with SUPABASE_SERVICE_ROLE_KEY), "off", or "auto":
	// the gateway when it is on, else Supabase when SUPABASE_URL is set, else off.
	// VENDORHUB_REALTIME_TARGET. Defaults to RealtimeTargetAuto.
	Target string
	// MaxConnsPerIP caps the gateway's concurrent sockets per client address.
	// VENDORHUB_GATEWAY_MAX_CONNS_PER_IP. Defaults to gateway.MaxConnsPerIPDefault.
	MaxConnsPerIP int
	// MaxChannelsPerConn caps the channels joined per socket.
	// VENDORHUB_GATEWAY_MAX_CHANNELS. Defaults to gateway.MaxChannelsPerConnDefault.
	MaxChannelsPerConn int
	// SendQueue bounds the frames waiting for one slow socket before it is disconnected.
	// VENDORHUB_GATEWAY_SEND_QUEUE. Defaults to gateway.SendQueueDefault.
	SendQueue int
	// MaxPayloadBytes is the largest broadcast payload, for the publisher (a larger one is
	// replaced by a refetch message) and the gateway (a larger one is refused). Supabase
	// allows 256 KB on Free, 3,000 KB on Pro. VENDORHUB_REALTIME_MAX_PAYLOAD_BYTES.
	// Defaults to realtime.MaxPayloadBytesDefault.
	MaxPayloadBytes int
	// QueueSize bounds the broadcasts waiting to be published; beyond it they are dropped and
	// counted. VENDORHUB_REALTIME_QUEUE_SIZE. Defaults to realtime.QueueSizeDefault.
	QueueSize int
	// Store keeps every routed broadcast in realtime.messages, written in the hand-off
	// transaction, so that clients replay what they missed (config.broadcast.replay) and, on
	// hosted Supabase, Realtime itself delivers them (Broadcast from Database) without the
	// REST publisher: "on" or "off". VENDORHUB_REALTIME_STORE. Defaults to RealtimeStoreDefault.
	Store string
	// JWKS is the project's JSON Web Key Set (its public signing keys), for projects on
	// asymmetric JWT signing keys; the gateway then accepts tokens signed by them.
	// SUPABASE_JWKS. Defaults to "".
	JWKS string
}

// validate reports every out-of-range field of a defaulted RealtimeConfig, naming its
// variable; dev and supabaseURL resolve Gateway and Target.
func (c RealtimeConfig) validate(dev bool, supabaseURL string) error {
	var errs []error
	for _, f := range []struct {
		v    int
		name string
	}{
		{c.MaxConnsPerIP, "VENDORHUB_GATEWAY_MAX_CONNS_PER_IP"},
		{c.MaxChannelsPerConn, "VENDORHUB_GATEWAY_MAX_CHANNELS"},
		{c.SendQueue, "VENDORHUB_GATEWAY_SEND_QUEUE"},
		{c.QueueSize, "VENDORHUB_REALTIME_QUEUE_SIZE"},
	} {
		if f.v < 1 {
			errs = append(errs, fmt.Errorf("%s=%d: want a positive number", f.name, f.v))
		}
	}
	if c.MaxPayloadBytes < 1024 {
		errs = append(errs, fmt.Errorf("VENDORHUB_REALTIME_MAX_PAYLOAD_BYTES=%d: want at least 1024", c.MaxPayloadBytes))
	}
	if _, err := c.storeOn(); err != nil {
		errs = append(errs, err)
	}
	gwOn, err := c.gatewayOn(dev)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	if _, err := c.target(gwOn, supabaseURL); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// storeOn resolves Store.
func (c RealtimeConfig) storeOn() (bool, error) {
	switch strings.ToLower(cmp.Or(c.Store, RealtimeStoreDefault)) {
	case "on", "true", "1":
		return true, nil
	case "off", "false", "0":
		return false, nil
	}
	return false, fmt.Errorf("VENDORHUB_REALTIME_STORE=%q: want on or off", c.Store)
}

// gatewayOn resolves Gateway for a dev or run sidecar.
func (c RealtimeConfig) gatewayOn(dev bool) (bool, error) {
	switch strings.ToLower(c.Gateway) {
	case "":
		return dev, nil
	case "on", "true", "1":
		return true, nil
	case "off", "false", "0":
		return false, nil
	}
	return false, fmt.Errorf("VENDORHUB_GATEWAY=%q: want on or off", c.Gateway)
}

// target resolves Target.
func (c RealtimeConfig) target(gatewayOn bool, supabaseURL string) (string, error) {
	switch t := strings.ToLower(c.Target); t {
	case "", RealtimeTargetAuto:
		switch {
		case gatewayOn:
			return RealtimeTargetGateway, nil
		case supabaseURL != "":
			return RealtimeTargetSupabase, nil
		}
		return RealtimeTargetOff, nil
	case RealtimeTargetGateway:
		if !gatewayOn {
			return "", errors.New("VENDORHUB_REALTIME_TARGET=gateway needs VENDORHUB_GATEWAY=on")
		}
		return t, nil
	case RealtimeTargetSupabase, RealtimeTargetOff:
		return t, nil
	}
	return "", fmt.Errorf("VENDORHUB_REALTIME_TARGET=%q: want auto, gateway, supabase or off", c.Target)
}

// Verifier builds the JWT verifier of cfg: SUPABASE_JWT_SECRET and SUPABASE_JWKS; with `dev`,
// the Supabase CLI's local secret and opaque keys when no secret is set.
func (cfg Config) Verifier() (*auth.Verifier, error) {
	ac := auth.Config{JWTSecret: cfg.JWTSecret, JWKS: []byte(cfg.Realtime.JWKS)}
	if cfg.Dev {
		if ac.JWTSecret == "" {
			ac.JWTSecret = auth.DevJWTSecret
		}
		if ac.JWTSecret == auth.DevJWTSecret {
			ac.OpaqueKeys = auth.DevOpaqueKeys()
		}
	}
	if ac.JWTSecret == "" && len(ac.JWKS) == 0 {
		return nil, errors.New("SUPABASE_JWT_SECRET or SUPABASE_JWKS is required to verify Supabase JWTs")
	}
	v, err := auth.NewVerifier(ac)
	if err != nil {
		return nil, fmt.Errorf("SUPABASE_JWT_SECRET/SUPABASE_JWKS: %w", err)
	}
	return v, nil
}

// realtimeStage is what the realtime stage hands the hand-off.
type realtimeStage struct {
	store     handoff.Sink        // nil unless VENDORHUB_REALTIME_STORE is on
	gateway   handoff.Broadcaster // nil without the embedded gateway
	publisher handoff.Broadcaster // nil when not publishing
}

// newRealtime builds the realtime stage: the store of broadcasts (realtime.messages) and its
// pruning, the embedded gateway (when on) on the mux, and the publisher of routed events to
// it or to Supabase Realtime (none when Supabase Realtime delivers the stored broadcasts).
func (s *Sidecar) newRealtime() (realtimeStage, error) {
	rc := s.cfg.Realtime
	gwOn, _ := rc.gatewayOn(s.cfg.Dev)              // validated by Config.Validate
	target, _ := rc.target(gwOn, s.cfg.SupabaseURL) // validated by Config.Validate
	storeOn, _ := rc.storeOn()                      // validated by Config.Validate
	var st realtimeStage
	if storeOn {
		st.store = &store.Sink{MaxPayloadBytes: rc.MaxPayloadBytes}
		s.goRun("realtime-prune", s.pruneRealtime(gwOn))
	}
	var gw *gateway.Gateway
	if gwOn {
		v, err := s.cfg.Verifier()
		if err != nil {
			return realtimeStage{}, fmt.Errorf("realtime gateway: %w", err)
		}
		auditLog := audit.NewBuffer(s.pool, audit.BufferConfig{Logger: s.log})
		s.onClose(auditLog.Close)
		// The gateway answers replays once this process leads replication (the stream is
		// built after the stages; Run starts this service with it).
		ready := make(chan struct{})
		s.goRun("realtime-replication-ready", func(ctx context.Context) error {
			select {
			case <-s.stream.Leading():
				close(ready)
			case <-ctx.Done():
			}
			return nil
		})
		var stored gateway.Store
		if storeOn {
			stored = &gateway.PGStore{Pool: s.pool}
		}
		gw, err = gateway.New(gateway.Config{
			Verifier:           v,
			Authorizer:         &gateway.PGAuthorizer{Pool: s.pool},
			Store:              stored,
			ReplicationReady:   ready,
			Audit:              auditLog,
			MaxConnsPerIP:      rc.MaxConnsPerIP,
			MaxChannelsPerConn: rc.MaxChannelsPerConn,
			SendQueue:          rc.SendQueue,
			MaxPayloadBytes:    rc.MaxPayloadBytes,
			MaxFrameBytes:      max(gateway.MaxFrameBytesDefault, rc.MaxPayloadBytes+64<<10),
			Logger:             s.log,
		})
		if err != nil {
			return realtimeStage{}, fmt.Errorf("realtime gateway: %w", err)
		}
		gw.Register(s.mux)
		// Membership changes re-check the gateway's channels (New registers it before the
		// publisher).
		st.gateway = gw
		// Sockets are hijacked: the HTTP server's shutdown does not end them, this does.
		s.goRun("realtime-gateway", func(ctx context.Context) error {
			<-ctx.Done()
			gw.Close()
			return nil
		})
	}

	var transport realtime.Transport
	switch target {
	case RealtimeTargetOff:
		s.log.Info("realtime: not publishing (set SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY, or VENDORHUB_GATEWAY=on)",
			"stored_in_realtime_messages", storeOn)
		return st, nil // the store still writes realtime.messages, which Supabase Realtime delivers
	case RealtimeTargetGateway:
		transport = gw
	case RealtimeTargetSupabase:
		if storeOn {
			s.log.Info("realtime: broadcasts are stored in realtime.messages; Supabase Realtime delivers and replays them (Broadcast from Database)")
			return st, nil
		}
		if s.cfg.SupabaseURL == "" || s.cfg.ServiceRoleKey == "" {
			return realtimeStage{}, errors.New("realtime: publishing to Supabase needs SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY")
		}
		transport = &realtime.RESTTransport{URL: s.cfg.SupabaseURL, APIKey: s.cfg.ServiceRoleKey}
	}
	pub, err := realtime.New(realtime.Config{Transport: transport, QueueSize: rc.QueueSize,
		MaxPayloadBytes: rc.MaxPayloadBytes, Logger: s.log})
	if err != nil {
		return realtimeStage{}, err
	}
	s.goRun("realtime-publisher", pub.Run)
	s.log.Info("realtime: publishing", "target", target, "gateway", gwOn)
	st.publisher = pub
	return st, nil
}

// pruneRealtime is the service that deletes stored broadcasts older than
// store.RetentionDefault, every RealtimePruneInterval. Supabase Realtime prunes
// realtime.messages itself; the embedded gateway does not, so with it (gwOn) those go too.
func (s *Sidecar) pruneRealtime(gwOn bool) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		t := time.NewTicker(RealtimePruneInterval)
		defer t.Stop()
		for {
			if n, err := store.Prune(ctx, s.pool, store.RetentionDefault, gwOn); err != nil && ctx.Err() == nil {
				s.log.Warn("realtime: pruning stored broadcasts failed", "err", err)
			} else if n > 0 {
				s.log.Info("realtime: pruned stored broadcasts", "deleted", n)
			}
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
			}
		}
	}
}

// devUsers finds, in the seeded dev database, a conversation with a vendor member and a
// couple member taking part, for the printed quick start.
const devUsersSQL = `
with conv as (
  select c.id, c.wedding_id from public.conversations c
  where c.parent_id is null
    and exists (select 1 from public.conversation_participants p join public.vendor_members m on m.user_id = p.user_id where p.conversation_id = c.id)
    and exists (select 1 from public.conversation_participants p join public.wedding_couples w on w.user_id = p.user_id and w.wedding_id = c.wedding_id where p.conversation_id = c.id)
  order by c.created_at, c.id limit 1),
vendor_user as (
  select u.id, u.email, m.vendor_id from conv
  join public.conversation_participants p on p.conversation_id = conv.id
  join public.vendor_members m on m.user_id = p.user_id
  join auth.users u on u.id = p.user_id
  order by u.email limit 1),
couple_user as (
  select u.id, u.email from conv
  join public.conversation_participants p on p.conversation_id = conv.id
  join public.wedding_couples w on w.user_id = p.user_id and w.wedding_id = conv.wedding_id
  join auth.users u on u.id = p.user_id
  order by u.email limit 1)
select conv.id::text, conv.wedding_id::text, vendor_user.vendor_id::text, vendor_user.id::text,
       coalesce(vendor_user.email, ''), couple_user.id::text, coalesce(couple_user.email, '')
from conv, vendor_user, couple_user`

// PrintRealtimeQuickStart writes, for `vendorhub dev`, a createClient(...) snippet for the
// embedded gateway and freshly minted JWTs (valid DevTokenTTL) of a seeded vendor member and
// couple member. It writes nothing when the gateway is off.
func (s *Sidecar) PrintRealtimeQuickStart(ctx context.Context, out io.Writer) error {
	if on, err := s.cfg.Realtime.gatewayOn(s.cfg.Dev); err != nil || !on {
		return err
	}
	secret := s.cfg.JWTSecret
	if secret == "" {
		secret = auth.DevJWTSecret
	}
	url := "http://" + s.cfg.HTTPAddr
	anon, err := auth.MintAPIKey(secret, auth.RoleAnon)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\nRealtime (Supabase-compatible gateway) at %s/realtime/v1\n", url)
	fmt.Fprintf(out, "  SUPABASE_URL=%s\n  SUPABASE_ANON_KEY=%s\n", url, anon)
	var conv, wedding, vendor, vendorUser, vendorEmail, coupleUser, coupleEmail string
	err = s.pool.QueryRow(ctx, devUsersSQL).Scan(&conv, &wedding, &vendor, &vendorUser, &vendorEmail, &coupleUser, &coupleEmail)
	if err != nil {
		fmt.Fprintf(out, "  (no seeded conversation found: %v)\n", err)
		return nil
	}
	mint := func(id, email string) string {
		tok, err := auth.MintUser(secret, auth.UserToken{UserID: id, Email: email, TTL: DevTokenTTL})
		if err != nil {
			return "error: " + err.Error()
		}
		return tok
	}
	fmt.Fprintf(out, "  vendor member %s (user %s, vendor %s), JWT valid %s:\n    %s\n", vendorEmail, vendorUser, vendor, DevTokenTTL, mint(vendorUser, vendorEmail))
	fmt.Fprintf(out, "  couple member %s (user %s, wedding %s), JWT valid %s:\n    %s\n", coupleEmail, coupleUser, wedding, DevTokenTTL, mint(coupleUser, coupleEmail))
	fmt.Fprintf(out, `  paste into Node (npm i @supabase/supabase-js ws) or a browser console:
    import { createClient } from '@supabase/supabase-js'
    const supabase = createClient('%s', '%s',
      { accessToken: async () => '<a JWT above>' })   // Node 20: add realtime: { transport: (await import('ws')).default }
    await supabase.realtime.setAuth()                  // private channels: join with the user's JWT
    supabase.channel('conversation:%s', { config: { private: true } })
      .on('broadcast', { event: 'message.created' }, ({ payload }) => console.log(payload))
      .subscribe((status, err) => console.log(status, err?.message ?? ''))
  event names and payloads: docs/realtime.md, types/vendorhub-realtime.d.ts
`, url, anon, conv)
	return nil
}
