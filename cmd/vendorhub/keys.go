package main

import (
	"context"
	"io"
)

// cmdKeys is a placeholder until the stage that owns `vendorhub keys` lands: its owner replaces
// this file.
func cmdKeys(_ context.Context, _ []string, _, _ io.Writer) error { return errNotImplemented }
