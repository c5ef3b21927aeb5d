package webhook

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wedsync/vendorhub/internal/audit"
	"github.com/wedsync/vendorhub/internal/edge"
	"github.com/wedsync/vendorhub/internal/secret"
	"github.com/wedsync/vendorhub/internal/webhook/signature"
)

// Pattern is the route the Handler serves (Go 1.22 ServeMux syntax, any method).
const Pattern = "/webhooks/{source}/{connection}"

// Handler is the ingress. Create it with New, mount it at Pattern, Close it on shutdown.
type Handler struct {
	cfg     Config
	conns   *connections
	inbox   *inbox
	audit   *audit.Buffer
	ipLim   *limiters
	connLim *limiters
}

// New returns the ingress storing into pool's database, reading connection secrets with keyring
// and writing rejections to auditLog (a Buffer on the same database). It starts the batch
// writers; Close stops them.
func New(pool *pgxpool.Pool, keyring *secret.Keyring, auditLog *audit.Buffer, cfg Config) (*Handler, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if pool == nil || keyring == nil || auditLog == nil {
		return nil, errors.New("webhook: New needs a pool, a keyring and an audit buffer")
	}
	return &Handler{
		cfg:     cfg,
		conns:   newConnections(pool, keyring, cfg),
		inbox:   newInbox(pool, cfg),
		audit:   auditLog,
		ipLim:   newLimiters(cfg.IPRate, cfg.IPBurst),
		connLim: newLimiters(cfg.ConnectionRate, cfg.ConnectionBurst),
	}, nil
}

// Close stops the batch writers; requests still waiting are answered 503.
func (h *Handler) Close() { h.inbox.close() }

// Forget drops the cached secret of a connection, so the next request reads it again.
func (h *Handler) Forget(connectionID string) { h.conns.forget(connectionID) }

// rejection is a refused request: what the sender sees and what the audit log records.
type rejection struct {
	status     int
	result     string // metric label
	reason     string // audit reason (safe: never a secret or body)
	retryAfter int
	action     string
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	now := h.cfg.Now()
	src := Source(r.PathValue("source"))
	segment := r.PathValue("connection")
	ip := sourceAddr(r)
	label := string(src)
	spec, known := sources[src]
	if !known {
		label = "unknown"
	}
	defer func() { metricDuration.WithLabelValues(label).Observe(time.Since(start).Seconds()) }()

	reject := func(rj rejection) {
		metricRequests.WithLabelValues(label, rj.result).Inc()
		details := map[string]any{"status": rj.status, "method": r.Method}
		if n := r.ContentLength; n > 0 {
			details["content_length"] = n
		}
		h.audit.Add(audit.Entry{Action: cmp.Or(rj.action, audit.ActionWebhookRejected), Subject: subject(src, segment),
			Reason: rj.reason, SourceIP: addrString(ip), Details: details})
		if rj.retryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(rj.retryAfter))
		}
		writeJSON(w, rj.status, `{"error":`+strconv.Quote(http.StatusText(rj.status))+`}`)
	}

	// 1. Source address limit, before any work.
	if ok, wait := h.ipLim.allow(addrString(ip), now); !ok {
		reject(rejection{status: http.StatusTooManyRequests, result: "rate_limited", reason: "rate limit: source address", retryAfter: retryAfter(wait)})
		return
	}
	// 2. Source and method.
	if !known {
		reject(rejection{status: http.StatusNotFound, result: "unknown_source", reason: "unknown source"})
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		reject(rejection{status: http.StatusMethodNotAllowed, result: "bad_method", reason: "method " + safeToken(r.Method) + " not allowed"})
		return
	}
	// Graph's validation handshake: echo the token as text/plain, before any body check.
	if src == SourceOutlook && r.URL.Query().Has(GraphValidationParam) {
		h.graphValidation(w, r, src, segment, reject)
		return
	}
	// 3. Size.
	if r.ContentLength > h.cfg.MaxBodyBytes {
		reject(rejection{status: http.StatusRequestEntityTooLarge, result: "too_large", reason: "body larger than " + strconv.FormatInt(h.cfg.MaxBodyBytes, 10) + " bytes"})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			reject(rejection{status: http.StatusRequestEntityTooLarge, result: "too_large", reason: "body larger than " + strconv.FormatInt(h.cfg.MaxBodyBytes, 10) + " bytes"})
			return
		}
		reject(rejection{status: http.StatusBadRequest, result: "read_error", reason: "body could not be read"})
		return
	}
	// 4. Content type.
	mt := parseMediaType(r.Header.Get("Content-Type"))
	if !spec.mediaTypeOK(mt, len(body)) {
		reject(rejection{status: http.StatusUnsupportedMediaType, result: "bad_content_type",
			reason: "content type " + quoteOrNone(mt) + " not accepted (want " + strings.Join(spec.mediaTypes, " or ") + ")"})
		return
	}
	// 5. Connection.
	ctx := r.Context()
	conn, err := h.conns.resolve(ctx, src, segment)
	if err != nil {
		switch {
		case errors.Is(err, errUnknownConnection), errors.Is(err, errKindMismatch):
			reject(rejection{status: http.StatusNotFound, result: "unknown_connection", reason: err.Error()})
		case errors.Is(err, errDisabled):
			reject(rejection{status: http.StatusGone, result: "disabled_connection", reason: err.Error()})
		default:
			h.cfg.Logger.Error("webhook: connection lookup failed", "source", src, "err", err)
			metricRequests.WithLabelValues(label, "unavailable").Inc()
			w.Header().Set("Retry-After", "5")
			writeJSON(w, http.StatusServiceUnavailable, `{"error":"Service Unavailable"}`)
		}
		return
	}
	// 6. Signature.
	in := &inbound{r: r, body: body, mediaType: mt, secrets: conn.secrets, publicURL: h.publicURL(r), now: now, tolerance: h.cfg.Tolerance}
	msg, err := spec.verify(in)
	if err != nil {
		reject(rejection{status: http.StatusUnauthorized, result: signatureResult(err), reason: err.Error()})
		return
	}
	// 7. Body.
	acc, err := spec.decode(in, msg)
	if err != nil {
		reject(rejection{status: http.StatusBadRequest, result: "malformed", reason: err.Error(), action: audit.ActionWebhookMalformed})
		return
	}
	// 8. Connection limit (local; the shared one is checked with the insert).
	limitKey := conn.id
	if limitKey == "" {
		limitKey = string(src) + "/" + conn.name
	}
	if ok, wait := h.connLim.allow(limitKey, now); !ok {
		reject(rejection{status: http.StatusTooManyRequests, result: "rate_limited", reason: "rate limit: connection", retryAfter: retryAfter(wait)})
		return
	}
	// 9. Store.
	item := &storeItem{source: spec.inbox, eventID: acc.eventID, headers: headersJSON(r.Header), payload: acc.payload, ip: ip}
	if conn.id != "" {
		id := conn.id
		item.connectionID = &id
	}
	res := h.inbox.store(ctx, item)
	switch res.outcome {
	case outcomeStored, outcomeDuplicate:
		metricRequests.WithLabelValues(label, string(res.outcome)).Inc()
		body := `{"status":"` + string(res.outcome) + `"}`
		if res.inboxID != "" {
			body = `{"status":"stored","id":"` + res.inboxID + `"}`
		}
		writeJSON(w, spec.okStatus, body)
	case outcomeLimitedConn:
		reject(rejection{status: http.StatusTooManyRequests, result: "rate_limited", reason: "rate limit: connection (all instances)", retryAfter: 1})
	case outcomeLimitedIP:
		reject(rejection{status: http.StatusTooManyRequests, result: "rate_limited", reason: "rate limit: source address (all instances)", retryAfter: 1})
	case outcomeUnstorable:
		reject(rejection{status: http.StatusBadRequest, result: "malformed", reason: "payload refused by the database", action: audit.ActionWebhookMalformed})
	default:
		if !errors.Is(res.err, context.Canceled) {
			h.cfg.Logger.Error("webhook: store failed", "source", src, "err", res.err)
		}
		metricRequests.WithLabelValues(label, "unavailable").Inc()
		w.Header().Set("Retry-After", "5")
		writeJSON(w, http.StatusServiceUnavailable, `{"error":"Service Unavailable"}`)
	}
}

// graphValidation answers Graph's subscription validation: 200, text/plain, the token.
func (h *Handler) graphValidation(w http.ResponseWriter, r *http.Request, src Source, segment string, reject func(rejection)) {
	token := r.URL.Query().Get(GraphValidationParam)
	if token == "" || len(token) > 1024 || !validHeaderText(token) {
		reject(rejection{status: http.StatusBadRequest, result: "malformed", reason: "invalid validationToken", action: audit.ActionWebhookMalformed})
		return
	}
	if _, err := h.conns.resolve(r.Context(), src, segment); err != nil {
		if errors.Is(err, errUnknownConnection) || errors.Is(err, errKindMismatch) || errors.Is(err, errDisabled) {
			reject(rejection{status: http.StatusNotFound, result: "unknown_connection", reason: err.Error()})
			return
		}
		w.Header().Set("Retry-After", "5")
		writeJSON(w, http.StatusServiceUnavailable, `{"error":"Service Unavailable"}`)
		return
	}
	metricRequests.WithLabelValues(string(src), "validation").Inc()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, token)
}

// publicURL is the URL the sender signed (Twilio): PublicURL + path and query, or the request's own.
func (h *Handler) publicURL(r *http.Request) string {
	if h.cfg.PublicURL != "" {
		return strings.TrimRight(h.cfg.PublicURL, "/") + r.URL.RequestURI()
	}
	scheme := "http"
	if edge.IsHTTPS(r) {
		scheme = "https"
	}
	return scheme + "://" + r.Host + r.URL.RequestURI()
}

// sourceAddr is the request's source address: the client the HTTP edge resolved (the peer,
// or the forwarded client behind a trusted proxy).
func sourceAddr(r *http.Request) *netip.Addr {
	if a := edge.ClientAddr(r); a.IsValid() {
		return &a
	}
	return nil
}

func signatureResult(err error) string {
	switch {
	case errors.Is(err, signature.ErrTimestampTooOld), errors.Is(err, signature.ErrTimestampTooNew), errors.Is(err, signature.ErrInvalidTimestamp):
		return "bad_timestamp"
	case errors.Is(err, signature.ErrMissingHeader):
		return "missing_signature"
	default:
		return "bad_signature"
	}
}

func subject(src Source, segment string) string {
	return fmt.Sprintf("webhook:%s/%s", safeToken(string(src)), safeToken(segment))
}

// safeToken keeps a URL segment or method printable and short for the audit log.
func safeToken(s string) string {
	if len(s) > 64 {
		s = s[:64]
	}
	b := []byte(s)
	for i, c := range b {
		if c < 0x21 || c > 0x7e {
			b[i] = '?'
		}
	}
	return string(b)
}

func addrString(a *netip.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

func quoteOrNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return strconv.Quote(s)
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}
