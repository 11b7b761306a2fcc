package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"time"

	"github.com/jmoiron/sqlx"

	"rmref/campaign"
	"rmref/internal/app"
	"rmref/internal/auth"
	"rmref/internal/db"
)

// genScale is the size of a generated bank.
type genScale struct {
	Staff, Customers, Conversions int
}

var genScales = map[string]genScale{
	"small":  {Staff: 200, Customers: 2_000, Conversions: 2_000},
	"medium": {Staff: 5_000, Customers: 50_000, Conversions: 100_000},
	"large":  {Staff: 200_000, Customers: 1_000_000, Conversions: 1_000_000},
}

// override replaces the counts given (> 0).
func (sc genScale) override(staff, customers, conversions int) genScale {
	if staff > 0 {
		sc.Staff = staff
	}
	if customers > 0 {
		sc.Customers = customers
	}
	if conversions > 0 {
		sc.Conversions = conversions
	}
	return sc
}

// runGen is `rmref gen --scale small|medium|large --out FILE.jsonl`: bulk
// loads a bank (org tree, staff, an active campaign, customers with 1–6
// remote/offline touches each), which is not what is measured, and writes
// the conversions as JSON lines for `rmref import conversions`, which is.
func runGen(ctx context.Context, e env) error {
	fs := newFlags("gen", e)
	scale := fs.String("scale", "small", "small, medium or large (200k staff, 1M customers, 1M conversions)")
	out := fs.String("out", "conversions.jsonl", "where to write the conversions")
	seed := fs.Uint64("seed", 1, "random seed")
	staff := fs.Int("staff", 0, "override the scale's staff count")
	customers := fs.Int("customers", 0, "override the scale's customer count")
	conversions := fs.Int("conversions", 0, "override the scale's conversion count")
	cfg, err := loadConfig(fs, e, nil)
	if err != nil {
		return err
	}
	sc, ok := genScales[*scale]
	if !ok {
		return fmt.Errorf("gen: unknown --scale %q", *scale)
	}
	sc = sc.override(*staff, *customers, *conversions)
	a, err := app.Open(ctx, cfg, nil, newLogger(e, cfg))
	if err != nil {
		return err
	}
	defer a.Shutdown(context.Background())
	g := &generator{d: a.DB, rnd: rand.New(rand.NewPCG(*seed, 7)), now: a.Clock.Now(), sc: sc, tag: strconv.FormatInt(a.Clock.Now().Unix(), 36)}
	start := time.Now()
	if err := g.org(ctx); err != nil {
		return err
	}
	if err := g.campaign(ctx, a, cfg.LandingHosts); err != nil {
		return err
	}
	if err := g.customers(ctx); err != nil {
		return err
	}
	if err := g.conversions(*out); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "generated %d staff, %d customers, %d touches, %d conversions (%s) in %s\n",
		len(g.staff), sc.Customers, g.touches, sc.Conversions, *out, time.Since(start).Round(time.Millisecond))
	return nil
}

type generator struct {
	d       *db.DB
	rnd     *rand.Rand
	now     time.Time
	sc      genScale
	tag     string
	staff   []int64
	region  int64
	hq      int64
	admin   int64
	touches int
}

// org builds hq > regions > branches > sub-branches > teams of 10 staff.
func (g *generator) org(ctx context.Context) error {
	return g.d.WithTx(ctx, func(tx *sqlx.Tx) error {
		hq, err := g.unit(ctx, tx, "hq", "G"+g.tag, 0, "/")
		if err != nil {
			return err
		}
		g.hq = hq
		if g.admin, err = g.person(ctx, tx, "GA"+g.tag, hq, "hq_admin"); err != nil {
			return err
		}
		teams := max(1, g.sc.Staff/10)
		var path [4]string
		var ids [4]int64
		for t := range teams {
			for lvl, every := range []int{1000, 50, 10, 1} { // region, branch, sub-branch, team
				if t%every != 0 {
					continue
				}
				parent, ppath := hq, "/"+strconv.FormatInt(hq, 10)+"/"
				if lvl > 0 {
					parent, ppath = ids[lvl-1], path[lvl-1]
				}
				kind := []string{"region", "branch", "subbranch", "team"}[lvl]
				id, err := g.unit(ctx, tx, kind, fmt.Sprintf("G%s-%s-%d", g.tag, kind, t), parent, ppath)
				if err != nil {
					return err
				}
				ids[lvl], path[lvl] = id, ppath+strconv.FormatInt(id, 10)+"/"
				if lvl == 0 && g.region == 0 {
					g.region = id
				}
			}
			for s := range 10 {
				id, err := g.person(ctx, tx, fmt.Sprintf("G%s-%d", g.tag, t*10+s), ids[3], "staff")
				if err != nil {
					return err
				}
				g.staff = append(g.staff, id)
			}
		}
		return nil
	})
}

const openHistory int64 = math.MaxInt64

func (g *generator) unit(ctx context.Context, tx *sqlx.Tx, kind, code string, parent int64, parentPath string) (int64, error) {
	var pid any
	depth := 0
	if parent > 0 {
		pid, depth = parent, countSlashes(parentPath)-1
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO org_units (kind, code, name, parent_id, path, depth, created_at, updated_at) VALUES (?, ?, ?, ?, '', ?, 0, 0)`,
		kind, code, code, pid, depth)
	if err != nil {
		return 0, fmt.Errorf("gen: unit: %w", err)
	}
	id, _ := res.LastInsertId()
	path := "/" + strconv.FormatInt(id, 10) + "/"
	if parent > 0 {
		path = parentPath + strconv.FormatInt(id, 10) + "/"
	}
	if _, err := tx.ExecContext(ctx, `UPDATE org_units SET path = ? WHERE id = ?`, path, id); err != nil {
		return 0, fmt.Errorf("gen: unit path: %w", err)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO unit_paths (unit_id, parent_id, path, valid_from, valid_to, created_at) VALUES (?, ?, ?, 0, ?, 0)`, id, pid, path, openHistory)
	if err != nil {
		return 0, fmt.Errorf("gen: unit history: %w", err)
	}
	return id, nil
}

func countSlashes(s string) int {
	n := 0
	for _, r := range s {
		if r == '/' {
			n++
		}
	}
	return n
}

func (g *generator) person(ctx context.Context, tx *sqlx.Tx, emp string, unit int64, roles string) (int64, error) {
	res, err := tx.ExecContext(ctx, `INSERT INTO staff (employee_no, name, unit_id, roles, status, created_at, updated_at) VALUES (?, ?, ?, ?, 'active', 0, 0)`,
		emp, emp, unit, roles)
	if err != nil {
		return 0, fmt.Errorf("gen: staff: %w", err)
	}
	id, _ := res.LastInsertId()
	_, err = tx.ExecContext(ctx, `INSERT INTO staff_assignments (staff_id, unit_id, valid_from, valid_to, created_at) VALUES (?, ?, 0, ?, 0)`, id, unit, openHistory)
	if err != nil {
		return 0, fmt.Errorf("gen: staff history: %w", err)
	}
	return id, nil
}

// campaign creates an active campaign over the whole generated bank,
// counting account_opened and wealth_purchase, linear model.
func (g *generator) campaign(ctx context.Context, a *app.App, hosts []string) error {
	if len(hosts) == 0 {
		return errors.New("gen: configure a landing host (RMREF_LANDING_HOSTS)")
	}
	admin, err := auth.LoadStaffPrincipal(ctx, a.DB, g.admin, 0)
	if err != nil {
		return err
	}
	cs := campaign.NewService(a.DB, a.Clock, hosts)
	code, name, landing := "gen-"+g.tag, "generated "+g.tag, "https://"+hosts[0]+"/gen"
	start, end := g.now.AddDate(0, 0, -60), g.now.AddDate(0, 0, 30)
	units := []int64{g.hq}
	convs := []campaign.ConversionRule{{Type: "account_opened"}, {Type: "wealth_purchase", MinAmountFen: 100_00}}
	model := campaign.ModelLinear
	c, err := cs.Create(ctx, admin, campaign.Patch{Code: &code, Name: &name, StartAt: &start, EndAt: &end, LandingURL: &landing,
		UnitIDs: &units, Conversions: &convs, Model: &model})
	if err != nil {
		return fmt.Errorf("gen: campaign: %w", err)
	}
	_, err = cs.Transition(ctx, admin, c.ID, campaign.StatusActive)
	return err
}

// customers bulk-loads customers (a customer id and a visitor id linked
// in one cluster) with 1–6 touches each in the last 30 days.
func (g *generator) customers(ctx context.Context) error {
	const chunk = 2000
	for from := 0; from < g.sc.Customers; from += chunk {
		err := g.d.WithTx(ctx, func(tx *sqlx.Tx) error {
			for i := from; i < min(from+chunk, g.sc.Customers); i++ {
				if err := g.customer(ctx, tx, i); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func (g *generator) customer(ctx context.Context, tx *sqlx.Tx, i int) error {
	now := db.Micros(g.now)
	res, err := tx.ExecContext(ctx, `INSERT INTO customer_identifiers (kind, value, cluster_id, created_at) VALUES ('customer_id', ?, 0, ?)`, g.customerNo(i), now)
	if err != nil {
		return fmt.Errorf("gen: customer: %w", err)
	}
	id, _ := res.LastInsertId()
	if _, err := tx.ExecContext(ctx, `UPDATE customer_identifiers SET cluster_id = id WHERE id = ?`, id); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO customer_identifiers (kind, value, cluster_id, created_at) VALUES ('visitor_id', ?, ?, ?)`, "gv"+g.customerNo(i), id, now); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO customers (customer_no, created_at) VALUES (?, ?)`, g.customerNo(i), now); err != nil {
		return err
	}
	for k := range 1 + g.rnd.IntN(6) {
		at := g.now.Add(-time.Duration(g.rnd.Int64N(int64(30 * 24 * time.Hour))))
		sid := g.staff[g.rnd.IntN(len(g.staff))]
		_, err := tx.ExecContext(ctx, `INSERT INTO touches (source, external_id, payload_hash, identifier_id, staff_id, channel, kind, campaign_id, occurred_at, created_at)
			VALUES ('gen', ?, '', ?, ?, 'remote', 'call', 0, ?, ?)`, fmt.Sprintf("%s-%d-%d", g.tag, i, k), id, sid, db.Micros(at), now)
		if err != nil {
			return fmt.Errorf("gen: touch: %w", err)
		}
		g.touches++
	}
	return nil
}

func (g *generator) customerNo(i int) string { return fmt.Sprintf("G%s-C%d", g.tag, i) }

// conversions writes the conversions, each for a random customer, in the
// last day before the clock.
func (g *generator) conversions(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("gen: %w", err)
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	for i := range g.sc.Conversions {
		typ, amount := "account_opened", int64(0)
		if g.rnd.IntN(3) == 0 {
			typ, amount = "wealth_purchase", 100_00+g.rnd.Int64N(10_000_000)
		}
		at := g.now.Add(-time.Duration(g.rnd.Int64N(int64(24 * time.Hour)))).Format(time.RFC3339)
		row := map[string]any{"source": "gen", "external_id": fmt.Sprintf("%s-X%d", g.tag, i), "type": typ, "amount_fen": amount,
			"channel": "offline", "occurred_at": at, "customer": map[string]string{"customer_id": g.customerNo(g.rnd.IntN(g.sc.Customers))}}
		if err := enc.Encode(row); err != nil {
			return err
		}
	}
	return w.Flush()
}
