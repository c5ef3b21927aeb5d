package main

import (
	"context"
	"io"
)

// cmdReport is a placeholder until the stage that owns `vendorhub report` lands: its owner replaces
// this file.
func cmdReport(_ context.Context, _ []string, _, _ io.Writer) error { return errNotImplemented }
