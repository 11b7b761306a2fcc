package db_test

import (
	"context"
	"os"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"

	"rmref/internal/db"
	"rmref/internal/dbtest"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// schema returns table -> sorted column names.
func schema(t *testing.T, d *db.DB) map[string][]string {
	t.Helper()
	ctx := context.Background()
	var rows []struct {
		Table  string `db:"t"`
		Column string `db:"c"`
	}
	q := `SELECT m.name AS t, p.name AS c FROM sqlite_master m JOIN pragma_table_info(m.name) p
	      WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> 'goose_db_version'`
	if d.Dialect.Name() == "mysql" {
		q = `SELECT table_name AS t, column_name AS c FROM information_schema.columns
		     WHERE table_schema = DATABASE() AND table_name <> 'goose_db_version'`
	}
	if err := d.SelectContext(ctx, &rows, q); err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, r := range rows {
		out[r.Table] = append(out[r.Table], r.Column)
	}
	for _, cols := range out {
		sort.Strings(cols)
	}
	return out
}

func versions(t *testing.T, dialect string) []string {
	t.Helper()
	entries, err := fsReadDir(dialect)
	if err != nil {
		t.Fatal(err)
	}
	return entries
}

func TestMigrationFilesMatch(t *testing.T) {
	if diff := cmp.Diff(versions(t, "sqlite"), versions(t, "mysql")); diff != "" {
		t.Fatalf("migration files differ between dialects (-sqlite +mysql):\n%s", diff)
	}
}

func TestMigrationParity(t *testing.T) {
	if os.Getenv(dbtest.EnvMySQL) == "" {
		t.Skip("needs RMREF_TEST_MYSQL_DSN")
	}
	lite, my := dbtest.OpenSQLite(t), dbtest.OpenMySQL(t)
	ctx := context.Background()
	lv, err := lite.Version(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mv, err := my.Version(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if lv != mv || lv == 0 {
		t.Fatalf("versions: sqlite %d, mysql %d", lv, mv)
	}
	if diff := cmp.Diff(schema(t, lite), schema(t, my)); diff != "" {
		t.Fatalf("schemas differ (-sqlite +mysql):\n%s", diff)
	}
}

func TestMigrateTwiceIsNoop(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		applied, err := d.Migrate(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(applied) != 0 {
			t.Fatalf("second migrate applied %v", applied)
		}
		st, err := d.MigrationStatuses(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range st {
			if !s.Applied {
				t.Errorf("%s not applied", s.Name)
			}
		}
	})
}

func TestUpsertAndUniqueViolation(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		ins := `INSERT INTO service_clients (key_id, name, salt, created_at) VALUES (?, ?, ?, ?) `
		if _, err := d.ExecContext(ctx, ins, "k1", "one", "s", 1); err != nil {
			t.Fatal(err)
		}
		_, err := d.ExecContext(ctx, ins, "k1", "dup", "s", 1)
		if !d.Dialect.IsUniqueViolation(err) {
			t.Fatalf("want unique violation, got %v", err)
		}
		up := ins + d.Dialect.Upsert([]string{"key_id"}, []string{"name"})
		if _, err := d.ExecContext(ctx, up, "k1", "renamed", "s", 1); err != nil {
			t.Fatal(err)
		}
		ign := ins + d.Dialect.IgnoreDup([]string{"key_id"}, "key_id")
		if _, err := d.ExecContext(ctx, ign, "k1", "ignored", "s", 1); err != nil {
			t.Fatal(err)
		}
		var name string
		if err := d.GetContext(ctx, &name, `SELECT name FROM service_clients WHERE key_id = ?`, "k1"); err != nil {
			t.Fatal(err)
		}
		if name != "renamed" {
			t.Fatalf("name = %q, want renamed", name)
		}
	})
}
