package poster

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	_ "image/jpeg" // registers JPEG for uploaded backgrounds
	_ "image/png"  // registers PNG for uploaded backgrounds
	"regexp"

	qrcode "github.com/skip2/go-qrcode"
	"golang.org/x/image/math/fixed"

	"rmref/internal/apperr"
)

// QRBox is where the QR code goes: a square of Size pixels at (X, Y).
type QRBox struct {
	X    int `json:"x"`
	Y    int `json:"y"`
	Size int `json:"size"`
}

// Alignments of text in its box.
const (
	AlignLeft   = "left"
	AlignCenter = "center"
	AlignRight  = "right"
)

// TextBox is where one text goes: its box starts at (X, Y), is Width
// pixels wide (0: to the right edge) and one line (1.3 × FontSize) high.
// Text too long for the box shrinks, then is cut with an ellipsis.
type TextBox struct {
	X        int    `json:"x"`
	Y        int    `json:"y"`
	Width    int    `json:"width,omitempty"`
	FontSize int    `json:"font_size"`
	Color    string `json:"color"`           // "#RRGGBB"
	Align    string `json:"align,omitempty"` // left (default), center, right
}

// Layout places the QR code and the text boxes on the background. A nil
// text box is not drawn.
type Layout struct {
	QR        QRBox    `json:"qr"`
	Title     *TextBox `json:"title,omitempty"`
	StaffName *TextBox `json:"staff_name,omitempty"`
	UnitName  *TextBox `json:"unit_name,omitempty"`
	Code      *TextBox `json:"code,omitempty"`
}

// Bounds of layouts and uploaded images.
const (
	MinQRSize     = 120 // pixels: smaller prints do not scan reliably
	MinFontSize   = 10
	MaxFontSize   = 400
	MaxImageBytes = 5 << 20
	MinImageSide  = 300
	MaxImageSide  = 4000
)

var colorRe = regexp.MustCompile(`^#[0-9A-Fa-f]{6}$`)

// Validate checks the layout against a background of w × h pixels; field
// names are prefixed with prefix (e.g. "layout").
func (l Layout) Validate(prefix string, w, h int) error {
	var ec apperr.Collector
	q := prefix + ".qr"
	ec.Check(l.QR.Size < MinQRSize, q+".size", fmt.Sprintf("must be at least %d pixels", MinQRSize))
	ec.Check(l.QR.X < 0 || l.QR.Y < 0 || l.QR.X+l.QR.Size > w || l.QR.Y+l.QR.Size > h, q,
		fmt.Sprintf("the QR box must lie within the %d×%d image", w, h))
	boxes := map[string]*TextBox{"title": l.Title, "staff_name": l.StaffName, "unit_name": l.UnitName, "code": l.Code}
	for _, name := range []string{"title", "staff_name", "unit_name", "code"} {
		if tb := boxes[name]; tb != nil {
			tb.validate(&ec, prefix+"."+name, w, h)
		}
	}
	return ec.Err()
}

func (tb TextBox) validate(ec *apperr.Collector, f string, w, h int) {
	ec.Check(tb.FontSize < MinFontSize || tb.FontSize > MaxFontSize, f+".font_size",
		fmt.Sprintf("must be from %d to %d", MinFontSize, MaxFontSize))
	ec.Check(!colorRe.MatchString(tb.Color), f+".color", `must be "#RRGGBB"`)
	ec.Check(tb.Align != "" && tb.Align != AlignLeft && tb.Align != AlignCenter && tb.Align != AlignRight,
		f+".align", "must be left, center or right")
	ec.Check(tb.Width < 0, f+".width", "must be ≥ 0")
	width := tb.Width
	if width == 0 {
		width = w - tb.X
	}
	ec.Check(tb.X < 0 || tb.Y < 0 || width < tb.FontSize || tb.X+width > w || tb.Y+lineHeight(tb.FontSize) > h, f,
		fmt.Sprintf("the text box must lie within the %d×%d image", w, h))
}

// Image is a decoded, checked background.
type Image struct {
	Image  image.Image
	Format string // "png" or "jpeg"
	Width  int
	Height int
}

// DecodeImage checks and decodes an uploaded background: at most
// MaxImageBytes (413 otherwise), PNG or JPEG, each side MinImageSide to
// MaxImageSide pixels (checked from the header before decoding, so a
// decompression bomb is refused cheaply). Errors name field.
func DecodeImage(field string, b []byte) (Image, error) {
	if len(b) > MaxImageBytes {
		e := apperr.Field(field, fmt.Sprintf("must be at most %d bytes", MaxImageBytes))
		e.Kind, e.Type = apperr.TooLarge, "image_too_large"
		return Image{}, e
	}
	if len(b) == 0 {
		return Image{}, apperr.Field(field, "is empty")
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil || (format != "png" && format != "jpeg") {
		return Image{}, apperr.Field(field, "must be a PNG or JPEG image")
	}
	if cfg.Width < MinImageSide || cfg.Height < MinImageSide || cfg.Width > MaxImageSide || cfg.Height > MaxImageSide {
		return Image{}, apperr.Field(field, fmt.Sprintf("must be %d to %d pixels on each side (got %d×%d)",
			MinImageSide, MaxImageSide, cfg.Width, cfg.Height))
	}
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		return Image{}, apperr.Field(field, "is not a readable "+format+" image")
	}
	return Image{Image: img, Format: format, Width: cfg.Width, Height: cfg.Height}, nil
}

// QRCode returns the QR code of content (medium error correction) at one
// pixel per module with the standard four-module quiet zone; Render scales
// it by whole pixels.
func QRCode(content string) (image.Image, error) {
	q, err := qrcode.New(content, qrcode.Medium)
	if err != nil {
		return nil, fmt.Errorf("poster: qr: %w", err)
	}
	bits := q.Bitmap()
	img := image.NewGray(image.Rect(0, 0, len(bits), len(bits)))
	for y, row := range bits {
		for x, dark := range row {
			if !dark {
				img.SetGray(x, y, color.Gray{Y: 0xff})
			}
		}
	}
	return img, nil
}

// Default poster size (a phone screen at 2×).
const (
	DefaultWidth  = 750
	DefaultHeight = 1334
)

// DefaultLayout is the layout of campaigns without an uploaded template,
// on DefaultBackground.
func DefaultLayout() Layout {
	white, gold := "#FFFFFF", "#FFE7A3"
	return Layout{
		QR:        QRBox{X: 195, Y: 560, Size: 360},
		Title:     &TextBox{X: 40, Y: 150, Width: 670, FontSize: 56, Color: white, Align: AlignCenter},
		StaffName: &TextBox{X: 40, Y: 990, Width: 670, FontSize: 48, Color: white, Align: AlignCenter},
		UnitName:  &TextBox{X: 40, Y: 1070, Width: 670, FontSize: 32, Color: gold, Align: AlignCenter},
		Code:      &TextBox{X: 40, Y: 1130, Width: 670, FontSize: 32, Color: gold, Align: AlignCenter},
	}
}

// DefaultBackground draws the background of campaigns without an uploaded
// template: a deep red to crimson gradient with a gold band and a light
// panel behind the QR code.
func DefaultBackground() image.Image {
	img := image.NewRGBA(image.Rect(0, 0, DefaultWidth, DefaultHeight))
	top, bottom := color.RGBA{0x9b, 0x11, 0x1e, 0xff}, color.RGBA{0xd4, 0x3a, 0x2f, 0xff}
	for y := 0; y < DefaultHeight; y++ {
		fill(img, image.Rect(0, y, DefaultWidth, y+1), lerp(top, bottom, y, DefaultHeight))
	}
	fill(img, image.Rect(0, 300, DefaultWidth, 308), color.RGBA{0xf2, 0xc1, 0x4e, 0xff})
	fill(img, image.Rect(165, 530, 585, 950), color.RGBA{0xfd, 0xf3, 0xe1, 0xff})
	fill(img, image.Rect(0, 1260, DefaultWidth, 1268), color.RGBA{0xf2, 0xc1, 0x4e, 0xff})
	return img
}

func lerp(a, b color.RGBA, i, n int) color.RGBA {
	mix := func(x, y uint8) uint8 { return uint8((int(x)*(n-i) + int(y)*i) / n) }
	return color.RGBA{mix(a.R, b.R), mix(a.G, b.G), mix(a.B, b.B), 0xff}
}

func fill(img *image.RGBA, r image.Rectangle, c color.RGBA) {
	draw.Draw(img, r, image.NewUniform(c), image.Point{}, draw.Src)
}

func fixedPoint(x, y int) fixed.Point26_6 { return fixed.P(x, y) }
