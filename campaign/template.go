package campaign

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"time"

	"github.com/jmoiron/sqlx"

	"rmref/internal/apperr"
	"rmref/internal/auth"
	"rmref/internal/db"
	"rmref/internal/poster"
)

// DefaultTemplateVersion is the version of the built-in template.
const DefaultTemplateVersion = "default-1"

// Template is a campaign's poster template: a background image (nil: the
// built-in background) and the layout of the QR code and text boxes.
type Template struct {
	CampaignID int64
	Image      []byte // the uploaded PNG or JPEG; nil for the default background
	ImageType  string // "png", "jpeg" or "" (default)
	Width      int
	Height     int
	Layout     poster.Layout
	Version    string // changes whenever image or layout change (cache key)
	UpdatedAt  time.Time
}

// IsDefault reports whether the template uses the built-in background.
func (t Template) IsDefault() bool { return len(t.Image) == 0 }

// Background returns the decoded background image.
func (t Template) Background() (image.Image, error) {
	if t.IsDefault() {
		return poster.DefaultBackground(), nil
	}
	img, _, err := image.Decode(bytes.NewReader(t.Image))
	if err != nil {
		return nil, fmt.Errorf("campaign: template %d: decode background: %w", t.CampaignID, err)
	}
	return img, nil
}

func defaultTemplate(campaignID int64) Template {
	return Template{CampaignID: campaignID, Width: poster.DefaultWidth, Height: poster.DefaultHeight,
		Layout: poster.DefaultLayout(), Version: DefaultTemplateVersion}
}

type templateRow struct {
	CampaignID int64      `db:"campaign_id"`
	Image      []byte     `db:"image"`
	ImageType  string     `db:"image_type"`
	Width      int        `db:"width"`
	Height     int        `db:"height"`
	Layout     string     `db:"layout"`
	Version    string     `db:"version"`
	UpdatedAt  db.Instant `db:"updated_at"`
}

const getTemplateQuery = `SELECT campaign_id, image, image_type, width, height, layout, version, updated_at
	FROM campaign_poster_templates WHERE campaign_id = ?`

// GetTemplate returns the poster template of a campaign: the stored one, or
// the built-in default when none was uploaded. It does not check that the
// campaign exists.
func GetTemplate(ctx context.Context, ext sqlx.ExtContext, campaignID int64) (Template, error) {
	var r templateRow
	if err := sqlx.GetContext(ctx, ext, &r, getTemplateQuery, campaignID); err != nil {
		if errors.Is(err, db.ErrNoRows) {
			return defaultTemplate(campaignID), nil
		}
		return Template{}, fmt.Errorf("campaign: template: %w", err)
	}
	t := Template{CampaignID: r.CampaignID, Image: r.Image, ImageType: r.ImageType, Width: r.Width,
		Height: r.Height, Version: r.Version, UpdatedAt: r.UpdatedAt.Time}
	if err := json.Unmarshal([]byte(r.Layout), &t.Layout); err != nil {
		return Template{}, fmt.Errorf("campaign: template %d: layout: %w", campaignID, err)
	}
	return t, nil
}

const templateVersionQuery = `SELECT version FROM campaign_poster_templates WHERE campaign_id = ?`

// TemplateVersion returns the version of a campaign's poster template
// (DefaultTemplateVersion when none was uploaded) without loading the
// image: a cheap cache key for rendered posters.
func TemplateVersion(ctx context.Context, ext sqlx.ExtContext, campaignID int64) (string, error) {
	var v string
	if err := sqlx.GetContext(ctx, ext, &v, templateVersionQuery, campaignID); err != nil {
		if errors.Is(err, db.ErrNoRows) {
			return DefaultTemplateVersion, nil
		}
		return "", fmt.Errorf("campaign: template version: %w", err)
	}
	return v, nil
}

func putTemplate(ctx context.Context, ext sqlx.ExtContext, d db.Dialect, t Template, layout []byte) error {
	q := `INSERT INTO campaign_poster_templates (campaign_id, image, image_type, width, height, layout, version, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ` + d.Upsert([]string{"campaign_id"},
		[]string{"image", "image_type", "width", "height", "layout", "version", "updated_at"})
	var img any
	if len(t.Image) > 0 {
		img = t.Image
	}
	_, err := ext.ExecContext(ctx, q, t.CampaignID, img, t.ImageType, t.Width, t.Height, string(layout), t.Version, db.Micros(t.UpdatedAt))
	if err != nil {
		return fmt.Errorf("campaign: put template: %w", err)
	}
	return nil
}

// TemplateUpload is a poster template change: a new background (nil keeps
// the current one) and a new layout (nil keeps the current one).
type TemplateUpload struct {
	Image  []byte
	Layout *poster.Layout
}

// Template returns a campaign the caller may read and its poster template.
func (s *Service) Template(ctx context.Context, p auth.Principal, id int64) (Campaign, Template, error) {
	c, err := s.Get(ctx, p, id)
	if err != nil {
		return Campaign{}, Template{}, err
	}
	t, err := GetTemplate(ctx, s.db, id)
	return c, t, err
}

// SetTemplate checks and stores a campaign's poster template: the image
// must be a PNG or JPEG within the size bounds (poster.DecodeImage) and the
// layout's boxes must lie within it. A refused upload changes nothing.
func (s *Service) SetTemplate(ctx context.Context, p auth.Principal, id int64, up TemplateUpload) (Template, error) {
	if up.Image == nil && up.Layout == nil {
		return Template{}, apperr.Field("image", "send an image, a layout, or both")
	}
	now := s.clock.Now()
	var out Template
	err := s.withTx(ctx, func(tx *sqlx.Tx) error {
		c, err := s.writable(ctx, tx, p, id)
		if err != nil {
			return err
		}
		if c.CurrentStatus(now) == StatusEnded {
			return apperr.Conflictf("campaign_ended", "an ended campaign cannot be edited")
		}
		cur, err := GetTemplate(ctx, tx, id)
		if err != nil {
			return err
		}
		if out, err = applyUpload(cur, up, now); err != nil {
			return err
		}
		layout, _ := json.Marshal(out.Layout)
		if err := putTemplate(ctx, tx, s.db.Dialect, out, layout); err != nil {
			return err
		}
		return record(ctx, tx, p, now, "campaign.poster_template", id, map[string]any{
			"image_type": out.ImageType, "width": out.Width, "height": out.Height, "image_bytes": len(out.Image),
			"version": out.Version, "previous_version": cur.Version, "layout": out.Layout})
	})
	return out, err
}

// applyUpload returns cur changed by up, validated, with its new version.
func applyUpload(cur Template, up TemplateUpload, now time.Time) (Template, error) {
	t := cur
	if up.Image != nil {
		img, err := poster.DecodeImage("image", up.Image)
		if err != nil {
			return Template{}, err
		}
		t.Image, t.ImageType, t.Width, t.Height = up.Image, img.Format, img.Width, img.Height
	}
	if up.Layout != nil {
		t.Layout = *up.Layout
	}
	if err := t.Layout.Validate("layout", t.Width, t.Height); err != nil {
		if up.Layout == nil {
			return Template{}, apperr.Field("layout", fmt.Sprintf("the current layout does not fit a %d×%d image; send a layout", t.Width, t.Height))
		}
		return Template{}, err
	}
	layout, _ := json.Marshal(t.Layout)
	h := sha256.New()
	h.Write(t.Image)
	h.Write(layout)
	t.Version, t.UpdatedAt = hex.EncodeToString(h.Sum(nil))[:16], now
	return t, nil
}

// Poster is what one staff member's poster shows.
type Poster struct {
	URL       string // the share link the QR code encodes
	StaffName string
	UnitName  string
	Code      string // the invitation code, as printed
}

// RenderPoster renders c's poster for one staff member with template t:
// the campaign name in the title box, the QR code of p.URL, and the staff
// member's name, unit and code. Callers cache the bytes by t.Version.
func RenderPoster(r *poster.Renderer, c Campaign, t Template, p Poster) ([]byte, error) {
	bg, err := t.Background()
	if err != nil {
		return nil, err
	}
	qr, err := poster.QRCode(p.URL)
	if err != nil {
		return nil, err
	}
	return r.Render(t.Layout, bg, qr, poster.Texts{Title: c.Name, StaffName: p.StaffName, UnitName: p.UnitName, Code: p.Code})
}
