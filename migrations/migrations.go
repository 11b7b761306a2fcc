// Package migrations embeds the SQL schema of both dialects. Each dialect has
// its own folder with the same versions; internal/db applies them with goose.
package migrations

import (
	"embed"
	"io/fs"
)

//go:embed sqlite/*.sql mysql/*.sql
var files embed.FS

// FS returns the migrations of one dialect ("sqlite" or "mysql").
func FS(dialect string) fs.FS {
	sub, err := fs.Sub(files, dialect)
	if err != nil {
		panic(err) // the folder names are compile-time constants
	}
	return sub
}
