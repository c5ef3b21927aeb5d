// Package vendorhub embeds the project's SQL so that the binary and the tests apply exactly the
// files the Supabase CLI applies: the plain-Postgres shim (sql/*.sql), the migrations
// (supabase/migrations/*.sql) and the demo seed (supabase/seed.sql).
//
// The embedding file sits at the repository root because //go:embed cannot reach parent folders;
// paths inside SQL are the repository paths (e.g. "supabase/migrations/20261125000100_x.sql").
package vendorhub

import "embed"

// SQL holds sql/*.sql, supabase/migrations/*.sql and supabase/seed.sql, at their repository paths.
//
//go:embed sql/*.sql supabase/migrations/*.sql supabase/seed.sql
var SQL embed.FS

// Paths of the embedded SQL, relative to the root of SQL.
const (
	ShimPath      = "sql/supabase_shim.sql"
	MigrationsDir = "supabase/migrations"
	SeedPath      = "supabase/seed.sql"
)
