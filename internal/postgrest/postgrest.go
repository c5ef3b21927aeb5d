// Package postgrest answers `POST /rest/v1/rpc/<function>` the way PostgREST (behind
// Supabase's API gateway) does, so that supabase-js `rpc()` calls written for hosted Supabase
// work unchanged against `vendorhub dev`. It is a dev stand-in, not a PostgREST: it serves
// function calls only (POST, and GET for stable and immutable functions), never tables.
//
// The contract followed (docs.postgrest.org, "Functions as RPC", "Transactions", "Errors"):
//
//   - the role comes from the JWT's role claim (Authorization: Bearer, else the apikey
//     header; Supabase's opaque sb_ keys are swapped for their JWT); no token means anon. A
//     token that fails verification gets 401 PGRST301 and a WWW-Authenticate header; a role
//     outside Config.Roles (the authenticator's memberships) gets 403 42501;
//   - one transaction per request: SET LOCAL role, request.jwt.claims (plus the legacy
//     request.jwt.claim.sub and .role), request.method, request.path, request.headers and
//     request.cookies, then the call; an error rolls everything back;
//   - the JSON body's keys are the function's named arguments (arguments with defaults may
//     be left out); Prefer: params=single-object, or a function with a single unnamed json or
//     jsonb parameter, receives the whole body. Only functions of the exposed schema
//     (Config.Schema, "public") are found: any other name is 404 PGRST202; several matching
//     overloads are 300 PGRST203; a schema other than the exposed one in Content-Profile or
//     Accept-Profile is 406 PGRST106; a body that is not JSON is 400 PGRST102;
//   - results: a set becomes a JSON array, a single composite an object, a scalar its JSON
//     value, void 204 No Content;
//   - database errors keep PostgreSQL's fields as {code, details, hint, message} with
//     PostgREST's status mapping: 42501 is 401 for anon and 403 otherwise, P0001 400, 23505
//     and 23503 409, 42883 404, PTxyz the status xyz, and so on (see Status);
//   - CORS is open, as Supabase's gateway answers browsers.
package postgrest

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/wedsync/vendorhub/internal/auth"
)

// Pattern is the route of the RPC endpoint (Go 1.22 ServeMux syntax, any method).
const Pattern = "/rest/v1/rpc/{function}"

// Defaults of Config.
const (
	SchemaDefault           = "public"
	AnonRoleDefault         = auth.RoleAnon
	MaxBodyBytesDefault     = 1 << 20
	StatementTimeoutDefault = 30 * time.Second
)

// Config configures a Handler.
type Config struct {
	// Verifier checks JWTs and resolves opaque API keys. Required.
	Verifier *auth.Verifier
	// Schema is the one exposed schema. Defaults to SchemaDefault ("public").
	Schema string
	// AnonRole is the role of requests without a token. Defaults to AnonRoleDefault ("anon").
	AnonRole string
	// Roles are the roles a JWT may switch to, like the memberships of PostgREST's
	// authenticator role: a token naming another role is refused (403, 42501) even when the
	// pool's own role could switch to it. Defaults to anon, authenticated and service_role.
	Roles []string
	// MaxBodyBytes caps a request body; beyond it the answer is 413. Defaults to 1 MiB.
	MaxBodyBytes int64
	// StatementTimeout bounds one call. Defaults to StatementTimeoutDefault (30 s).
	StatementTimeout time.Duration
	// Logger receives unexpected failures. Defaults to slog.Default().
	Logger *slog.Logger
}

// WithDefaults returns a copy of c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	c.Schema = cmp.Or(c.Schema, SchemaDefault)
	c.AnonRole = cmp.Or(c.AnonRole, AnonRoleDefault)
	if len(c.Roles) == 0 {
		c.Roles = []string{auth.RoleAnon, auth.RoleAuthenticated, auth.RoleServiceRole}
	}
	c.MaxBodyBytes = cmp.Or(c.MaxBodyBytes, MaxBodyBytesDefault)
	c.StatementTimeout = cmp.Or(c.StatementTimeout, StatementTimeoutDefault)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Handler serves Pattern.
type Handler struct {
	pool *pgxpool.Pool
	cfg  Config
}

// New returns the RPC handler calling functions through pool (whose role must be allowed to
// SET ROLE to the API roles, as PostgREST's authenticator is).
func New(pool *pgxpool.Pool, cfg Config) (*Handler, error) {
	cfg = cfg.WithDefaults()
	if pool == nil || cfg.Verifier == nil {
		return nil, errors.New("postgrest: New needs a pool and Config.Verifier")
	}
	return &Handler{pool: pool, cfg: cfg}, nil
}

var requests = promauto.NewCounterVec(prometheus.CounterOpts{
	Name: "vendorhub_rpc_requests_total",
	Help: "Dev RPC (PostgREST-compatible) requests by HTTP status.",
}, []string{"status"})

// Error is PostgREST's error body.
type Error struct {
	Code    string  `json:"code"`
	Details *string `json:"details"`
	Hint    *string `json:"hint"`
	Message string  `json:"message"`

	status int
	header http.Header
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func apiError(status int, code, message, details, hint string) *Error {
	return &Error{status: status, Code: code, Message: message, Details: strPtr(details), Hint: strPtr(hint)}
}

// Status maps a PostgreSQL error code to PostgREST's HTTP status; authenticated tells 42501
// apart (403 for a signed-in role, 401 for anon).
func Status(code string, authenticated bool) int {
	if strings.HasPrefix(code, "PT") && len(code) == 5 {
		if n, err := strconv.Atoi(code[2:]); err == nil && n >= 100 && n <= 599 {
			return n
		}
	}
	switch code {
	case "23503", "23505":
		return http.StatusConflict
	case "25006":
		return http.StatusMethodNotAllowed
	case "53400":
		return http.StatusInternalServerError
	case "P0001":
		return http.StatusBadRequest
	case "42883", "42P01":
		return http.StatusNotFound
	case "42P17":
		return http.StatusInternalServerError
	case "42501":
		if authenticated {
			return http.StatusForbidden
		}
		return http.StatusUnauthorized
	}
	if len(code) < 2 {
		return http.StatusInternalServerError
	}
	switch code[:2] {
	case "08", "53":
		return http.StatusServiceUnavailable
	case "0L", "0P", "28":
		return http.StatusForbidden
	case "09", "25", "2D", "38", "39", "3B", "40", "54", "55", "57", "58", "F0", "HV", "XX":
		return http.StatusInternalServerError
	case "P0":
		return http.StatusInternalServerError
	}
	return http.StatusBadRequest
}

func (h *Handler) cors(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	origin := r.Header.Get("Origin")
	if origin == "" {
		origin = "*"
	} else {
		hd.Set("Access-Control-Allow-Credentials", "true")
		hd.Add("Vary", "Origin")
	}
	hd.Set("Access-Control-Allow-Origin", origin)
	hd.Set("Access-Control-Expose-Headers", "Content-Encoding, Content-Location, Content-Range, Content-Type, Date, Location, Server, Transfer-Encoding, Range-Unit")
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.cors(w, r)
	if r.Method == http.MethodOptions {
		w.Header().Set("Access-Control-Allow-Methods", "GET, POST, PATCH, PUT, DELETE, OPTIONS, HEAD")
		allow := "Authorization, Content-Type, Accept, Accept-Language, Content-Language, apikey, x-client-info, prefer, accept-profile, content-profile"
		if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
			allow += ", " + req
		}
		w.Header().Set("Access-Control-Allow-Headers", allow)
		w.Header().Set("Access-Control-Max-Age", "86400")
		w.WriteHeader(http.StatusOK)
		requests.WithLabelValues("200").Inc()
		return
	}
	status, body, err := h.serve(r)
	if err != nil {
		var e *Error
		if !errors.As(err, &e) {
			h.cfg.Logger.Error("postgrest: unexpected failure", "function", r.PathValue("function"), "err", err)
			e = apiError(http.StatusInternalServerError, "PGRST000", "internal error", "", "")
		}
		for k, vs := range e.header {
			w.Header()[k] = vs
		}
		status = e.status
		body, _ = json.Marshal(e)
	}
	requests.WithLabelValues(strconv.Itoa(status)).Inc()
	if status == http.StatusNoContent {
		w.WriteHeader(status)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// caller is who a request runs as.
type caller struct {
	role   string
	claims json.RawMessage
	sub    string
}

func (h *Handler) authenticate(r *http.Request) (caller, error) {
	token := ""
	if a := r.Header.Get("Authorization"); a != "" {
		scheme, t, ok := strings.Cut(a, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return caller{}, jwtError("Missing authorization credentials")
		}
		token = strings.TrimSpace(t)
	} else if k := r.Header.Get("apikey"); k != "" {
		token = k
	}
	if token == "" {
		claims, _ := json.Marshal(map[string]string{"role": h.cfg.AnonRole})
		return caller{role: h.cfg.AnonRole, claims: claims}, nil
	}
	token, err := h.cfg.Verifier.ResolveAPIKey(token)
	if err != nil {
		return caller{}, jwtError(err.Error())
	}
	c, err := h.cfg.Verifier.Verify(token)
	if err != nil {
		if errors.Is(err, auth.ErrExpired) {
			return caller{}, jwtError("JWT expired")
		}
		return caller{}, jwtError(err.Error())
	}
	return caller{role: c.Role, claims: c.JSON, sub: c.Subject}, nil
}

func jwtError(msg string) *Error {
	e := apiError(http.StatusUnauthorized, "PGRST301", msg, "", "")
	e.header = http.Header{"Www-Authenticate": {`Bearer error="invalid_token", error_description="` +
		strings.ReplaceAll(msg, `"`, `'`) + `"`}}
	return e
}

// function is one candidate from the catalog.
type function struct {
	name      string
	argNames  []string // input arguments, "" for unnamed
	argTypes  []string // format_type of each input argument
	defaults  int      // trailing input arguments with defaults
	returnSet bool
	typtype   string // pg_type.typtype of the return type
	void      bool
	volatile  bool
	outArgs   bool // declares OUT/TABLE columns: returns composite rows
}

const catalogSQL = `
select p.proname,
       coalesce(p.proargnames, '{}'::text[]),
       coalesce(p.proargmodes::text[], '{}'::text[]),
       array(select format_type(t, null) from unnest(p.proargtypes) t),
       p.pronargdefaults, p.proretset, t.typtype::text, p.prorettype = 'void'::regtype, p.provolatile = 'v'
from pg_proc p
join pg_namespace n on n.oid = p.pronamespace
join pg_type t on t.oid = p.prorettype
where n.nspname = $1 and p.proname = $2 and p.prokind = 'f'
order by p.oid`

func (h *Handler) candidates(ctx context.Context, name string) ([]function, error) {
	rows, err := h.pool.Query(ctx, catalogSQL, h.cfg.Schema, name)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (function, error) {
		var f function
		var names, modes []string
		if err := row.Scan(&f.name, &names, &modes, &f.argTypes, &f.defaults, &f.returnSet, &f.typtype, &f.void, &f.volatile); err != nil {
			return f, err
		}
		f.argNames = make([]string, len(f.argTypes))
		if len(modes) == 0 {
			copy(f.argNames, names)
		} else {
			j := 0
			for i, m := range modes {
				switch m {
				case "i", "b", "v":
					if j < len(f.argNames) && i < len(names) {
						f.argNames[j] = names[i]
					}
					j++
				case "o", "t":
					f.outArgs = true
				}
			}
		}
		return f, nil
	})
}

// singleJSON reports a function taking one unnamed json or jsonb argument.
func (f function) singleJSON() bool {
	return len(f.argTypes) == 1 && f.argNames[0] == "" && (f.argTypes[0] == "json" || f.argTypes[0] == "jsonb")
}

// matches reports whether f takes exactly the named arguments keys (defaults may be omitted).
func (f function) matches(keys []string) bool {
	required := len(f.argNames) - f.defaults
	for i, n := range f.argNames {
		if n == "" {
			return false
		}
		if i < required && !slices.Contains(keys, n) {
			return false
		}
	}
	for _, k := range keys {
		if !slices.Contains(f.argNames, k) {
			return false
		}
	}
	return true
}

func (f function) signature(schema string) string {
	var parts []string
	for i, n := range f.argNames {
		parts = append(parts, strings.TrimSpace(n+" "+f.argTypes[i]))
	}
	return schema + "." + f.name + "(" + strings.Join(parts, ", ") + ")"
}

func (h *Handler) serve(r *http.Request) (int, []byte, error) {
	name := r.PathValue("function")
	schema := h.cfg.Schema
	for _, hdr := range []string{"Content-Profile", "Accept-Profile"} {
		if p := r.Header.Get(hdr); p != "" && p != schema {
			return 0, nil, apiError(http.StatusNotAcceptable, "PGRST106",
				"The schema must be one of the following: "+schema, "", "")
		}
	}
	if r.Method != http.MethodPost && r.Method != http.MethodGet && r.Method != http.MethodHead {
		return 0, nil, apiError(http.StatusMethodNotAllowed, "PGRST101", "Only GET, HEAD and POST are allowed for RPC", "", "")
	}
	who, err := h.authenticate(r)
	if err != nil {
		return 0, nil, err
	}
	if !slices.Contains(h.cfg.Roles, who.role) {
		return 0, nil, apiError(http.StatusForbidden, "42501", fmt.Sprintf("permission denied to set role %q", who.role), "", "")
	}

	// Arguments: the JSON body (POST) or the query string (GET).
	var args map[string]json.RawMessage
	var raw []byte
	singleObject := preferParams(r.Header.Get("Prefer")) == "single-object"
	if r.Method == http.MethodPost {
		raw, err = io.ReadAll(http.MaxBytesReader(nil, r.Body, h.cfg.MaxBodyBytes))
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return 0, nil, apiError(http.StatusRequestEntityTooLarge, "PGRST102",
					fmt.Sprintf("The request body is larger than %d bytes", h.cfg.MaxBodyBytes), "", "")
			}
			return 0, nil, apiError(http.StatusBadRequest, "PGRST102", "Empty or invalid json", "", "")
		}
		if len(strings.TrimSpace(string(raw))) == 0 {
			raw = []byte("{}")
		}
		if !json.Valid(raw) {
			return 0, nil, apiError(http.StatusBadRequest, "PGRST102", "Empty or invalid json", "", "")
		}
		if err := json.Unmarshal(raw, &args); err != nil && !singleObject {
			args = nil // not an object: only a single json/jsonb parameter can take it
		}
	} else {
		args = map[string]json.RawMessage{}
		for k, vs := range r.URL.Query() {
			b, _ := json.Marshal(vs[len(vs)-1])
			args[k] = b
		}
		raw, _ = json.Marshal(args)
	}
	keys := make([]string, 0, len(args))
	for k := range args {
		keys = append(keys, k)
	}
	slices.Sort(keys)

	ctx := r.Context()
	cands, err := h.candidates(ctx, name)
	if err != nil {
		return 0, nil, pgError(err, who.role != h.cfg.AnonRole)
	}
	var match []function
	for _, f := range cands {
		if singleObject && len(f.argTypes) == 1 || !singleObject && args != nil && f.matches(keys) {
			match = append(match, f)
		}
	}
	if len(match) == 0 && !singleObject { // a single unnamed json/jsonb parameter takes any body
		for _, f := range cands {
			if f.singleJSON() {
				match = append(match, f)
			}
		}
	}
	switch {
	case len(match) == 0:
		hint := ""
		if len(cands) > 0 {
			hint = "Perhaps you meant to call the function " + cands[0].signature(schema)
		}
		return 0, nil, apiError(http.StatusNotFound, "PGRST202",
			fmt.Sprintf("Could not find the function %s.%s(%s) in the schema cache", schema, name, strings.Join(keys, ", ")),
			fmt.Sprintf("Searched for the function %s.%s with parameters %s or with a single unnamed json/jsonb parameter, but no matches were found in the schema cache.",
				schema, name, strings.Join(keys, ", ")), hint)
	case len(match) > 1:
		var sigs []string
		for _, f := range match {
			sigs = append(sigs, f.signature(schema))
		}
		return 0, nil, apiError(http.StatusMultipleChoices, "PGRST203",
			fmt.Sprintf("Could not choose the best candidate function between: %s", strings.Join(sigs, ", ")),
			"", "Try renaming the parameters or the function itself in the database so function overloading can be resolved")
	}
	f := match[0]
	if r.Method != http.MethodPost && f.volatile {
		return 0, nil, apiError(http.StatusMethodNotAllowed, "PGRST101",
			"Cannot use the GET method on RPC to call a volatile function", "", "")
	}
	whole := singleObject || f.singleJSON()
	return h.call(ctx, r, who, f, keys, raw, whole)
}

// preferParams returns the params= value of a Prefer header.
func preferParams(prefer string) string {
	for _, p := range strings.Split(prefer, ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(p), "params="); ok {
			return v
		}
	}
	return ""
}

// callSQL builds the statement calling f with the arguments of $1 (a JSON object, or the
// whole body for a single-parameter call).
func callSQL(schema string, f function, keys []string, whole bool) string {
	fn := pgx.Identifier{schema, f.name}.Sanitize()
	var from, call string
	switch {
	case whole:
		call = fmt.Sprintf("%s($1::%s)", fn, f.argTypes[0])
	case len(keys) == 0:
		call = fn + "()"
	default:
		var cols, named []string
		for _, k := range keys {
			i := slices.Index(f.argNames, k)
			id := pgx.Identifier{k}.Sanitize()
			cols = append(cols, id+" "+f.argTypes[i])
			named = append(named, id+" := _a."+id)
		}
		from = "json_to_record($1::json) as _a(" + strings.Join(cols, ", ") + "), "
		call = fn + "(" + strings.Join(named, ", ") + ")"
	}
	composite := f.typtype == "c" || f.outArgs
	switch {
	case f.void && from == "":
		return "select " + call
	case f.void:
		return "select " + call + " from " + strings.TrimSuffix(from, ", ")
	case composite && f.returnSet:
		return "select coalesce(jsonb_agg(_c), '[]') from " + from + "lateral " + call + " as _c"
	case composite:
		return "select coalesce(jsonb_agg(_c) -> 0, 'null') from " + from + "lateral " + call + " as _c"
	case f.returnSet:
		return "select coalesce(jsonb_agg(_c.v), '[]') from " + from + "lateral " + call + " as _c(v)"
	}
	return "select coalesce(to_jsonb((array_agg(_c.v))[1]), 'null') from " + from + "lateral " + call + " as _c(v)"
}

func (h *Handler) call(ctx context.Context, r *http.Request, who caller, f function, keys []string, raw []byte, whole bool) (int, []byte, error) {
	authn := who.role != h.cfg.AnonRole
	headers := map[string]string{}
	for k, vs := range r.Header {
		headers[strings.ToLower(k)] = strings.Join(vs, ",")
	}
	hj, _ := json.Marshal(headers)
	cookies := map[string]string{}
	for _, c := range r.Cookies() {
		cookies[c.Name] = c.Value
	}
	cj, _ := json.Marshal(cookies)

	var out []byte
	err := pgx.BeginTxFunc(ctx, h.pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `select set_config('statement_timeout', $1, true),
  set_config('request.jwt.claims', $2, true), set_config('request.jwt.claim.sub', $3, true),
  set_config('request.jwt.claim.role', $4, true), set_config('request.method', $5, true),
  set_config('request.path', $6, true), set_config('request.headers', $7, true),
  set_config('request.cookies', $8, true)`,
			strconv.FormatInt(h.cfg.StatementTimeout.Milliseconds(), 10), string(who.claims), who.sub, who.role,
			r.Method, "/rpc/"+f.name, string(hj), string(cj)); err != nil {
			return err
		}
		// SET LOCAL ROLE last: the settings above need no privilege, the role may lack them.
		if _, err := tx.Exec(ctx, "set local role "+pgx.Identifier{who.role}.Sanitize()); err != nil {
			return err
		}
		q := callSQL(h.cfg.Schema, f, keys, whole)
		var params []any
		if whole || len(keys) > 0 {
			params = []any{string(raw)}
		}
		if f.void {
			_, err := tx.Exec(ctx, q, params...)
			return err
		}
		return tx.QueryRow(ctx, q, params...).Scan(&out)
	})
	if err != nil {
		return 0, nil, pgError(err, authn)
	}
	if f.void {
		return http.StatusNoContent, nil, nil
	}
	return http.StatusOK, out, nil
}

// pgError turns a database error into PostgREST's shape.
func pgError(err error, authenticated bool) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		e := &Error{Code: pe.Code, Message: pe.Message, Details: strPtr(pe.Detail), Hint: strPtr(pe.Hint),
			status: Status(pe.Code, authenticated)}
		return e
	}
	if pgconn.SafeToRetry(err) || errors.Is(err, context.DeadlineExceeded) {
		return apiError(http.StatusServiceUnavailable, "PGRST000", "Could not connect to the database", err.Error(), "")
	}
	return err
}
