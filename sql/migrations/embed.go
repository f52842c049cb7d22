// Package migrations embeds the goose migrations so the binary can migrate its own database.
package migrations

import "embed"

// FS holds every migration file.
//
//go:embed *.sql
var FS embed.FS
