package db_test

import (
	"io/fs"

	"rmref/migrations"
)

func fsReadDir(dialect string) ([]string, error) {
	entries, err := fs.ReadDir(migrations.FS(dialect), ".")
	if err != nil {
		return nil, err
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	return names, nil
}
