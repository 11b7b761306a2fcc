// Package poster renders campaign posters: a background image, text boxes
// for the staff member's name, unit name and code (and optionally the
// campaign title) in a font with CJK glyphs, and a QR code drawn crisply
// (whole-pixel nearest-neighbour scaling on a white quiet zone) so that
// every poster decodes. It caches nothing: callers cache rendered bytes.
//
// Typical use (the per-code poster endpoint):
//
//	r, err := poster.New(cfg.FontFile)                 // once, at start-up
//	qr, err := poster.QRCode(shareURL)                 // 1 px per module, quiet zone included
//	png, err := r.Render(layout, background, qr, poster.Texts{StaffName: "张晓明", UnitName: "朝阳支行", Code: "7K3M9Q2X"})
package poster

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"os"

	xdraw "golang.org/x/image/draw"
	"golang.org/x/image/font"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/font/sfnt"
)

// FallbackFonts are tried, in order, when no font file is configured.
var FallbackFonts = []string{
	"/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
	"/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
	"/usr/share/fonts/opentype/noto/NotoSansCJKsc-Regular.otf",
	"/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
	"/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
	"/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
	"/usr/share/fonts/truetype/arphic/uming.ttc",
}

// ErrNoFont means no configured or installed font has CJK glyphs.
var ErrNoFont = errors.New("poster: no font with CJK glyphs found (set RMREF_FONT_FILE or install fonts-wqy-microhei)")

// Renderer draws posters with one font. It is safe for concurrent use.
type Renderer struct {
	font *sfnt.Font
	path string
}

// New loads the font at fontPath (TTF, OTF or the first face of a TTC); an
// empty path tries FallbackFonts. The font must have CJK glyphs.
func New(fontPath string) (*Renderer, error) {
	if fontPath != "" {
		f, err := loadFont(fontPath)
		if err != nil {
			return nil, err
		}
		return &Renderer{font: f, path: fontPath}, nil
	}
	for _, p := range FallbackFonts {
		if f, err := loadFont(p); err == nil {
			return &Renderer{font: f, path: p}, nil
		}
	}
	return nil, ErrNoFont
}

// FontPath returns the path of the font in use.
func (r *Renderer) FontPath() string { return r.path }

func loadFont(path string) (*sfnt.Font, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("poster: font: %w", err)
	}
	off, err := firstFaceOffset(b)
	if err != nil {
		return nil, fmt.Errorf("poster: font %s: %w", path, err)
	}
	face, err := extractFace(b, off)
	if err != nil {
		return nil, fmt.Errorf("poster: font %s: %w", path, err)
	}
	f, err := opentype.Parse(face)
	if err != nil {
		return nil, fmt.Errorf("poster: font %s: %w", path, err)
	}
	var buf sfnt.Buffer
	for _, r := range "行7A" {
		if gi, gerr := f.GlyphIndex(&buf, r); gerr != nil || gi == 0 {
			return nil, fmt.Errorf("poster: font %s lacks the glyph %q (posters need CJK, digits and Latin letters)", path, r)
		}
	}
	return f, nil
}

// Texts are the strings drawn into a layout's text boxes.
type Texts struct {
	Title     string // campaign name (drawn only if the layout has a title box)
	StaffName string
	UnitName  string
	Code      string
}

// Render composes background, texts and qr per layout and returns a PNG.
// The layout must have been validated against the background's size; the
// QR code is drawn last, so text never covers it.
func (r *Renderer) Render(layout Layout, background image.Image, qr image.Image, texts Texts) ([]byte, error) {
	b := background.Bounds()
	canvas := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(canvas, canvas.Bounds(), background, b.Min, draw.Src)
	boxes := []struct {
		box  *TextBox
		text string
	}{{layout.Title, texts.Title}, {layout.StaffName, texts.StaffName}, {layout.UnitName, texts.UnitName}, {layout.Code, texts.Code}}
	for _, tb := range boxes {
		if tb.box == nil || tb.text == "" {
			continue
		}
		if err := r.drawText(canvas, *tb.box, tb.text); err != nil {
			return nil, err
		}
	}
	drawQR(canvas, layout.QR, qr)
	var out bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(&out, canvas); err != nil {
		return nil, fmt.Errorf("poster: encode: %w", err)
	}
	return out.Bytes(), nil
}

// drawQR paints a white box and the QR code inside it, scaled by a whole
// number of pixels per source pixel and centred, so modules stay sharp; a
// QR larger than the box is scaled down nearest-neighbour. A margin of at
// least a twentieth of the box is kept white around it as quiet zone.
func drawQR(dst *image.RGBA, box QRBox, qr image.Image) {
	rect := image.Rect(box.X, box.Y, box.X+box.Size, box.Y+box.Size)
	draw.Draw(dst, rect, image.White, image.Point{}, draw.Src)
	if qr == nil {
		return
	}
	margin := box.Size / 20
	inner := box.Size - 2*margin
	qb := qr.Bounds()
	side := max(qb.Dx(), qb.Dy())
	target := inner
	if k := inner / side; k >= 1 {
		target = k * side
	}
	off := (box.Size - target) / 2
	dr := image.Rect(box.X+off, box.Y+off, box.X+off+target*qb.Dx()/side, box.Y+off+target*qb.Dy()/side)
	xdraw.NearestNeighbor.Scale(dst, dr, qr, qb, draw.Src, nil)
}

// lineHeight is the height of a text box for a font size (ascent and
// descent of CJK faces fit in 1.3 em).
func lineHeight(fontSize int) int { return (fontSize*13 + 9) / 10 }

func (r *Renderer) drawText(dst *image.RGBA, tb TextBox, text string) error {
	c, err := parseColor(tb.Color)
	if err != nil {
		return err
	}
	width := tb.Width
	if width == 0 {
		width = dst.Bounds().Dx() - tb.X
	}
	face, text, err := r.fit(text, tb.FontSize, width)
	if err != nil {
		return err
	}
	defer face.Close()
	d := &font.Drawer{Dst: dst, Src: image.NewUniform(c), Face: face}
	adv := d.MeasureString(text).Ceil()
	x := tb.X
	switch tb.Align {
	case AlignCenter:
		x += (width - adv) / 2
	case AlignRight:
		x += width - adv
	}
	m := face.Metrics()
	pad := (lineHeight(tb.FontSize) - (m.Ascent + m.Descent).Ceil()) / 2
	d.Dot = fixedPoint(x, tb.Y+max(pad, 0)+m.Ascent.Ceil())
	d.DrawString(text)
	return nil
}

// fit returns a face whose size lets text fit width: the text shrinks down
// to MinFontSize, and past that is cut with an ellipsis.
func (r *Renderer) fit(text string, size, width int) (font.Face, string, error) {
	face, err := r.face(size)
	if err != nil {
		return nil, "", err
	}
	adv := font.MeasureString(face, text).Ceil()
	if adv <= width {
		return face, text, nil
	}
	face.Close()
	size = max(size*width/adv, MinFontSize)
	if face, err = r.face(size); err != nil {
		return nil, "", err
	}
	runes := []rune(text)
	for len(runes) > 0 && font.MeasureString(face, string(runes)).Ceil() > width {
		runes = runes[:len(runes)-1]
		text = string(runes) + "…"
		if font.MeasureString(face, text).Ceil() <= width {
			return face, text, nil
		}
	}
	return face, string(runes), nil
}

func (r *Renderer) face(size int) (font.Face, error) {
	f, err := opentype.NewFace(r.font, &opentype.FaceOptions{Size: float64(size), DPI: 72, Hinting: font.HintingFull})
	if err != nil {
		return nil, fmt.Errorf("poster: face: %w", err)
	}
	return f, nil
}

func parseColor(s string) (color.RGBA, error) {
	var c color.RGBA
	if !colorRe.MatchString(s) {
		return c, fmt.Errorf("poster: colour %q is not #RRGGBB", s)
	}
	_, err := fmt.Sscanf(s[1:], "%02x%02x%02x", &c.R, &c.G, &c.B)
	c.A = 0xff
	return c, err
}
