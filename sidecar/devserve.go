package sidecar

import (
	"context"
	"log/slog"
)

// ServeDev returns a DevConfig.Serve that runs the sidecar on the dev database until ctx
// ends: configuration from the environment (getenv; os.Getenv when nil) with DatabaseURL
// set to the dev database and Dev set.
func ServeDev(getenv func(string) string, logger *slog.Logger) func(ctx context.Context, env DevEnv) error {
	return func(ctx context.Context, env DevEnv) error {
		cfg, err := FromEnv(getenv)
		if err != nil {
			return err
		}
		cfg.DatabaseURL = env.DatabaseURL
		cfg.Dev = true
		s, err := New(ctx, cfg, logger)
		if err != nil {
			return err
		}
		if env.Out != nil {
			if err := s.PrintRealtimeQuickStart(ctx, env.Out); err != nil {
				return err
			}
			s.PrintDashboardQuickStart(env.Out)
		}
		return s.Run(ctx)
	}
}
