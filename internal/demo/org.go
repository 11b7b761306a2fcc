package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"rmref/internal/app"
	"rmref/internal/apperr"
	"rmref/internal/auth"
	"rmref/org"
)

// demoOrg holds what the demo's later steps and the printout need: unit
// ids by code, staff ids by employee number, and the key people.
type demoOrg struct {
	Units map[string]int64 // unit id by code
	Staff map[string]int64 // staff id by employee number

	HQ         int64   // the hq root unit
	CallCentre int64   // the call-centre team (remote channel), under HQ
	Regions    []int64 // region unit ids
	Branches   []int64 // branch unit ids
	Teams      []int64 // sales team unit ids (not the call centre)

	HQAdmin          int64   // first HQ admin
	HQAdmin2         int64   // second HQ admin
	Auditor          int64   // read-only auditor
	CampaignManager  int64   // maker of campaign changes
	CampaignManager2 int64   // checker of campaign changes
	BranchManagers   []int64 // one manager per branch, in Branches order
	Agents           []int64 // call-centre agents
	SalesStaff       []int64 // front-line staff in branches and teams
	StaffMember      int64   // the staff member whose credentials are printed
	BranchManager    int64   // the branch manager whose credentials are printed (Shanghai)
	ManagedBranch    int64   // the unit BranchManager manages
}

type demoUnit struct {
	code, name string
	kind       org.Kind
	parent     string
}

var demoUnits = []demoUnit{
	{"HQ", "总行", org.KindHQ, ""},
	{"R-EAST", "华东区域", org.KindRegion, "HQ"},
	{"R-SOUTH", "华南区域", org.KindRegion, "HQ"},
	{"BR-SH", "上海分行", org.KindBranch, "R-EAST"},
	{"BR-HZ", "杭州分行", org.KindBranch, "R-EAST"},
	{"BR-GZ", "广州分行", org.KindBranch, "R-SOUTH"},
	{"BR-SZ", "深圳分行", org.KindBranch, "R-SOUTH"},
	{"SB-SH-PD", "浦东支行", org.KindSubbranch, "BR-SH"},
	{"SB-GZ-TH", "天河支行", org.KindSubbranch, "BR-GZ"},
	{"T-SH-PD-1", "浦东财富一组", org.KindTeam, "SB-SH-PD"},
	{"T-SH-PD-2", "浦东零售二组", org.KindTeam, "SB-SH-PD"},
	{"T-SH-CARD", "上海信用卡团队", org.KindTeam, "BR-SH"},
	{"T-HZ-1", "杭州财富团队", org.KindTeam, "BR-HZ"},
	{"T-GZ-TH-1", "天河财富团队", org.KindTeam, "SB-GZ-TH"},
	{"T-SZ-1", "深圳零售团队", org.KindTeam, "BR-SZ"},
	{"T-SZ-CARD", "深圳信用卡团队", org.KindTeam, "BR-SZ"},
	{"T-CC", "远程客服中心", org.KindTeam, "HQ"},
}

type demoPerson struct {
	no, name, unit string
	roles          []auth.Role
}

func r(rs ...auth.Role) []auth.Role { return rs }

var keyPeople = []demoPerson{
	{"E0001", "王建国", "HQ", r(auth.RoleHQAdmin)},
	{"E0002", "李秀英", "HQ", r(auth.RoleHQAdmin)},
	{"E0003", "张伟", "HQ", r(auth.RoleAuditor)},
	{"E0004", "刘洋", "HQ", r(auth.RoleCampaignManager)},
	{"E0005", "陈静", "HQ", r(auth.RoleCampaignManager)},
	{"E0101", "杨帆", "BR-SH", r(auth.RoleStaff, auth.RoleManager)},
	{"E0102", "黄磊", "BR-HZ", r(auth.RoleStaff, auth.RoleManager)},
	{"E0103", "赵敏", "BR-GZ", r(auth.RoleStaff, auth.RoleManager)},
	{"E0104", "周杰", "BR-SZ", r(auth.RoleStaff, auth.RoleManager)},
	{"E0201", "吴婷", "T-CC", r(auth.RoleStaff)},
	{"E0202", "徐磊", "T-CC", r(auth.RoleStaff)},
	{"E0203", "孙丽", "T-CC", r(auth.RoleStaff)},
	{"E0204", "马超", "T-CC", r(auth.RoleStaff)},
}

// salesUnits places the 27 front-line staff: mostly in teams, a few
// directly under a branch (their chain has no team).
var salesUnits = []string{"T-SH-PD-1", "T-SH-PD-1", "T-SH-PD-1", "T-SH-PD-2", "T-SH-PD-2", "T-SH-CARD", "T-SH-CARD", "BR-SH",
	"T-HZ-1", "T-HZ-1", "T-HZ-1", "BR-HZ", "T-GZ-TH-1", "T-GZ-TH-1", "T-GZ-TH-1", "SB-GZ-TH", "BR-GZ",
	"T-SZ-1", "T-SZ-1", "T-SZ-1", "T-SZ-CARD", "T-SZ-CARD", "T-SZ-CARD", "BR-SZ", "T-SH-PD-2", "T-HZ-1", "T-SZ-1"}

var (
	surnames = []rune("林郭何高罗郑梁谢宋唐许韩冯邓曹彭曾萧田董袁潘蒋蔡余杜叶程")
	given    = []string{"子涵", "浩然", "雨萱", "思远", "欣怡", "俊杰", "梓萱", "宇航", "诗琪", "文博", "佳怡", "明轩", "若曦", "嘉豪", "晓燕", "志强", "美玲", "国华", "婉婷", "天佑", "慧敏", "建军", "丽娜", "鹏飞", "秀兰", "海涛", "春梅"}
)

// demoPeople is every demo staff member: the key people and 27 sales staff.
func demoPeople() []demoPerson {
	out := append([]demoPerson(nil), keyPeople...)
	for i, u := range salesUnits {
		name := string(surnames[i%len(surnames)]) + given[i%len(given)]
		out = append(out, demoPerson{fmt.Sprintf("E1%03d", i+1), name, u, r(auth.RoleStaff)})
	}
	return out
}

// demoPhone is a realistic, distinct mobile number for person i.
func demoPhone(i int) string {
	prefixes := []string{"138", "139", "137", "186", "158", "150", "135", "188"}
	return fmt.Sprintf("%s%08d", prefixes[i%len(prefixes)], 10234567+i*7919)
}

// demoSystem is the principal that seeds the demo (audited as "system").
var demoSystem = auth.Principal{Roles: []auth.Role{auth.RoleHQAdmin}}

// seedOrg creates (or finds) the demo bank's tree and staff. History starts
// a year before the clock so that later steps may backdate activity.
func seedOrg(ctx context.Context, a *app.App) (demoOrg, error) {
	svc := org.NewService(a.DB, a.Clock, a.PII, a.Config.Location())
	since := a.Clock.Now().AddDate(-1, 0, 0)
	o := demoOrg{Units: map[string]int64{}, Staff: map[string]int64{}}
	for _, u := range demoUnits {
		id, err := ensureUnit(ctx, svc, u, o.Units, since)
		if err != nil {
			return demoOrg{}, err
		}
		o.Units[u.code] = id
	}
	for i, p := range demoPeople() {
		id, err := ensureStaff(ctx, svc, p, o.Units[p.unit], demoPhone(i), since)
		if err != nil {
			return demoOrg{}, err
		}
		o.Staff[p.no] = id
	}
	o.fill()
	return o, nil
}

func ensureUnit(ctx context.Context, svc *org.Service, u demoUnit, ids map[string]int64, since time.Time) (int64, error) {
	found, _, err := svc.ListUnits(ctx, demoSystem, org.UnitFilter{Code: u.code, Limit: 1})
	if err != nil {
		return 0, err
	}
	if len(found) == 1 {
		return found[0].ID, nil
	}
	made, err := svc.CreateUnit(ctx, demoSystem, org.NewUnit{Kind: u.kind, Code: u.code, Name: u.name, ParentID: ids[u.parent], EffectiveAt: &since})
	if err != nil {
		return 0, fmt.Errorf("demo: unit %s: %w", u.code, err)
	}
	return made.ID, nil
}

func ensureStaff(ctx context.Context, svc *org.Service, p demoPerson, unit int64, phone string, since time.Time) (int64, error) {
	st, err := svc.Store.StaffByEmployeeNo(ctx, svc.DB, demoSystem, p.no)
	if err == nil {
		return st.ID, nil
	}
	if apperr.KindOf(err) != apperr.NotFound {
		return 0, err
	}
	st, err = svc.CreateStaff(ctx, demoSystem, org.NewStaff{EmployeeNo: p.no, Name: p.name, UnitID: unit, Roles: p.roles, Phone: phone, EffectiveAt: &since})
	if err != nil {
		return 0, fmt.Errorf("demo: staff %s: %w", p.no, err)
	}
	return st.ID, nil
}

// fill sets the named fields from the id maps.
func (o *demoOrg) fill() {
	u, s := o.Units, o.Staff
	o.HQ, o.CallCentre = u["HQ"], u["T-CC"]
	o.Regions = []int64{u["R-EAST"], u["R-SOUTH"]}
	o.Branches = []int64{u["BR-SH"], u["BR-HZ"], u["BR-GZ"], u["BR-SZ"]}
	o.Teams = nil
	for _, d := range demoUnits {
		if d.kind == org.KindTeam && d.code != "T-CC" {
			o.Teams = append(o.Teams, u[d.code])
		}
	}
	o.HQAdmin, o.HQAdmin2, o.Auditor = s["E0001"], s["E0002"], s["E0003"]
	o.CampaignManager, o.CampaignManager2 = s["E0004"], s["E0005"]
	o.BranchManagers = []int64{s["E0101"], s["E0102"], s["E0103"], s["E0104"]}
	o.Agents = []int64{s["E0201"], s["E0202"], s["E0203"], s["E0204"]}
	o.SalesStaff = nil
	for i := range salesUnits {
		o.SalesStaff = append(o.SalesStaff, s[fmt.Sprintf("E1%03d", i+1)])
	}
	o.StaffMember, o.BranchManager, o.ManagedBranch = s["E1001"], s["E0101"], u["BR-SH"]
}

// printCredentials prints access tokens for a staff member, a branch
// manager, a campaign manager and an HQ admin, with curl lines to try.
func printCredentials(ctx context.Context, a *app.App, o demoOrg, w io.Writer) error {
	base := a.Config.BaseURL
	people := []struct {
		label string
		id    int64
		try   string
	}{
		{"staff member", o.StaffMember, fmt.Sprintf("%s/api/v1/staff/%d", base, o.StaffMember)},
		{"branch manager (上海分行)", o.BranchManager, fmt.Sprintf("%s/api/v1/org/units/%d/staff?recursive=true", base, o.ManagedBranch)},
		{"campaign manager", o.CampaignManager, fmt.Sprintf("%s/api/v1/staff/%d", base, o.CampaignManager)},
		{"HQ admin", o.HQAdmin, fmt.Sprintf("%s/api/v1/org/units?kind=branch", base)},
	}
	fmt.Fprintf(w, "\nrmref demo bank at %s — sign-in tokens:\n", base)
	for _, p := range people {
		tok, emp, err := demoToken(ctx, a, p.id)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "\n# %s, employee %s\nTOKEN=%s\ncurl -s -H \"Authorization: Bearer $TOKEN\" '%s'\n", p.label, emp, tok, p.try)
	}
	fmt.Fprintf(w, "\nTokens expire after %s; print a fresh one with: rmref token --demo --employee E0101\n", a.Config.AccessTTL)
	return nil
}

func demoToken(ctx context.Context, a *app.App, staffID int64) (tok, emp string, err error) {
	var row struct {
		Emp string `db:"employee_no"`
		Ver int64  `db:"token_version"`
	}
	if err := a.DB.GetContext(ctx, &row, `SELECT employee_no, token_version FROM staff WHERE id = ?`, staffID); err != nil {
		return "", "", fmt.Errorf("demo: token for staff %d: %w", staffID, err)
	}
	if tok, _, err = a.Tokens.Issue(staffID, row.Emp, row.Ver); err != nil {
		return "", "", errors.Join(errors.New("demo: token"), err)
	}
	return tok, row.Emp, nil
}
