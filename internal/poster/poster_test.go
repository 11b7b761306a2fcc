package poster_test

import (
	"bytes"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"strconv"
	"testing"

	"rmref/internal/apperr"
	"rmref/internal/poster"
	"rmref/internal/qrtest"
)

const shareURL = "https://rm.example-bank.cn/s/7K3M9Q2X/qr_poster"

func renderer(t *testing.T) *poster.Renderer {
	t.Helper()
	r, err := poster.New("")
	if err != nil {
		t.Fatalf("poster.New: %v (install fonts-wqy-microhei)", err)
	}
	return r
}

// Decode reads the QR code in a PNG with ZXing's Go port.
func Decode(t *testing.T, pngBytes []byte) string {
	t.Helper()
	text, err := qrtest.Decode(pngBytes)
	if err != nil {
		t.Fatalf("QR does not decode: %v", err)
	}
	return text
}

func TestDefaultPosterDecodes(t *testing.T) {
	r := renderer(t)
	qr, err := poster.QRCode(shareURL)
	if err != nil {
		t.Fatal(err)
	}
	out, err := r.Render(poster.DefaultLayout(), poster.DefaultBackground(), qr,
		poster.Texts{Title: "2026 冬季开卡季", StaffName: "张晓明", UnitName: "朝阳支行", Code: "邀请码 7K3M-9Q2X"})
	if err != nil {
		t.Fatal(err)
	}
	if got := Decode(t, out); got != shareURL {
		t.Fatalf("decoded %q, want %q", got, shareURL)
	}
	zbar(t, out, shareURL)
}

// zbar checks the poster with Debian's zbarimg too, where installed.
func zbar(t *testing.T, pngBytes []byte, want string) {
	t.Helper()
	out, ok, err := qrtest.Zbar(pngBytes)
	if !ok {
		t.Log("zbarimg not installed; decoded with gozxing only")
		return
	}
	if err != nil || out != want {
		t.Fatalf("zbarimg = %q, %v; want %q", out, err, want)
	}
}

func TestQRScalesCrisplyIntoAnyBox(t *testing.T) {
	r := renderer(t)
	qr, _ := poster.QRCode(shareURL)
	for _, size := range []int{120, 199, 333, 500} {
		l := poster.Layout{QR: poster.QRBox{X: 17, Y: 23, Size: size}}
		bg := image.NewRGBA(image.Rect(0, 0, 600, 600))
		out, err := r.Render(l, bg, qr, poster.Texts{})
		if err != nil {
			t.Fatal(err)
		}
		if got := Decode(t, out); got != shareURL {
			t.Fatalf("size %d: decoded %q", size, got)
		}
	}
}

func TestChineseTextRenders(t *testing.T) {
	r := renderer(t)
	l := poster.DefaultLayout()
	bg := poster.DefaultBackground()
	qr, _ := poster.QRCode(shareURL)
	render := func(name string) *image.RGBA {
		out, err := r.Render(l, bg, qr, poster.Texts{StaffName: name})
		if err != nil {
			t.Fatal(err)
		}
		img, _ := png.Decode(bytes.NewReader(out))
		rgba := image.NewRGBA(img.Bounds())
		for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y; y++ {
			for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x++ {
				rgba.Set(x, y, img.At(x, y))
			}
		}
		return rgba
	}
	box := image.Rect(l.StaffName.X, l.StaffName.Y, l.StaffName.X+l.StaffName.Width, l.StaffName.Y+l.StaffName.FontSize*13/10)
	empty, a, b := render(""), render("张晓明"), render("李建国")
	if n := diffPixels(empty, a, box); n < 200 {
		t.Fatalf("only %d pixels of the name box changed with text", n)
	}
	// Missing glyphs would draw the same boxes (tofu) for any three characters.
	if n := diffPixels(a, b, box); n < 200 {
		t.Fatalf("two different Chinese names differ in only %d pixels: glyphs missing", n)
	}
	codeBox := image.Rect(l.Code.X, l.Code.Y, l.Code.X+l.Code.Width, l.Code.Y+l.Code.FontSize*13/10)
	c1, c2 := render2(t, r, poster.Texts{Code: "7K3M9Q2X"}), render2(t, r, poster.Texts{Code: "ABCDEFGH"})
	if n := diffPixels(c1, c2, codeBox); n < 200 {
		t.Fatalf("two different codes differ in only %d pixels: Latin glyphs missing", n)
	}
	if n := diffPixels(empty, a, image.Rect(0, 0, 750, 900)); n != 0 {
		t.Fatalf("%d pixels outside the name box changed", n)
	}
}

func render2(t *testing.T, r *poster.Renderer, texts poster.Texts) *image.RGBA {
	t.Helper()
	qr, _ := poster.QRCode(shareURL)
	out, err := r.Render(poster.DefaultLayout(), poster.DefaultBackground(), qr, texts)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	return img.(*image.RGBA)
}

func diffPixels(a, b *image.RGBA, r image.Rectangle) int {
	n := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if a.RGBAAt(x, y) != b.RGBAAt(x, y) {
				n++
			}
		}
	}
	return n
}

func TestLongTextStaysInItsBox(t *testing.T) {
	r := renderer(t)
	l := poster.Layout{QR: poster.QRBox{X: 0, Y: 300, Size: 300},
		StaffName: &poster.TextBox{X: 50, Y: 20, Width: 200, FontSize: 40, Color: "#000000"}}
	bg := image.NewRGBA(image.Rect(0, 0, 300, 600))
	draw := func(bg *image.RGBA) {
		for i := range bg.Pix {
			bg.Pix[i] = 0xff
		}
	}
	draw(bg)
	out, err := r.Render(l, bg, nil, poster.Texts{StaffName: "中国工商银行股份有限公司北京朝阳支行营业部"})
	if err != nil {
		t.Fatal(err)
	}
	img, _ := png.Decode(bytes.NewReader(out))
	inked := 0
	for y := 0; y < 300; y++ {
		for x := 0; x < 300; x++ {
			r, _, _, _ := img.At(x, y).RGBA()
			dark := r < 0x8000
			inside := x >= 50 && x < 250 && y >= 20 && y < 72
			if dark && !inside {
				t.Fatalf("ink at (%d,%d), outside the box", x, y)
			}
			if dark {
				inked++
			}
		}
	}
	if inked < 100 {
		t.Fatalf("long text drew only %d pixels", inked)
	}
}

func TestLayoutValidate(t *testing.T) {
	ok := poster.DefaultLayout()
	if err := ok.Validate("layout", poster.DefaultWidth, poster.DefaultHeight); err != nil {
		t.Fatalf("default layout: %v", err)
	}
	for _, tc := range []struct {
		name  string
		edit  func(l *poster.Layout)
		field string
	}{
		{"qr off the right", func(l *poster.Layout) { l.QR.X = 500 }, "layout.qr"},
		{"qr negative", func(l *poster.Layout) { l.QR.Y = -1 }, "layout.qr"},
		{"qr too small", func(l *poster.Layout) { l.QR.Size = 50 }, "layout.qr.size"},
		{"text below", func(l *poster.Layout) { l.Code.Y = 1320 }, "layout.code"},
		{"text too wide", func(l *poster.Layout) { l.UnitName.Width = 800 }, "layout.unit_name"},
		{"bad colour", func(l *poster.Layout) { l.StaffName.Color = "red" }, "layout.staff_name.color"},
		{"short colour", func(l *poster.Layout) { l.StaffName.Color = "#FFF" }, "layout.staff_name.color"},
		{"font too small", func(l *poster.Layout) { l.Title.FontSize = 2 }, "layout.title.font_size"},
		{"bad align", func(l *poster.Layout) { l.Title.Align = "justify" }, "layout.title.align"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := poster.DefaultLayout()
			c := *l.Code
			u := *l.UnitName
			s := *l.StaffName
			ti := *l.Title
			l.Code, l.UnitName, l.StaffName, l.Title = &c, &u, &s, &ti
			tc.edit(&l)
			err := l.Validate("layout", poster.DefaultWidth, poster.DefaultHeight)
			e, isApp := apperr.As(err)
			if !isApp || e.Kind != apperr.Invalid || !named(e, tc.field) {
				t.Fatalf("Validate = %v, want a field error on %s", err, tc.field)
			}
		})
	}
}

func named(e *apperr.Error, field string) bool {
	for _, f := range e.Fields {
		if f.Field == field {
			return true
		}
	}
	return false
}

func encodePNG(t *testing.T, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestDecodeImage(t *testing.T) {
	var jpg, gf bytes.Buffer
	_ = jpeg.Encode(&jpg, image.NewRGBA(image.Rect(0, 0, 640, 480)), nil)
	_ = gif.Encode(&gf, image.NewPaletted(image.Rect(0, 0, 400, 400), []color.Color{color.White}), nil)
	valid := encodePNG(t, 400, 600)
	for _, tc := range []struct {
		name string
		b    []byte
		kind apperr.Kind
	}{
		{"png", valid, 0},
		{"jpeg", jpg.Bytes(), 0},
		{"gif", gf.Bytes(), apperr.Invalid},
		{"text", []byte("hello, not an image"), apperr.Invalid},
		{"empty", nil, apperr.Invalid},
		{"truncated png", valid[:len(valid)/2], apperr.Invalid},
		{"too narrow", encodePNG(t, 299, 600), apperr.Invalid},
		{"too tall", encodePNG(t, 300, 4001), apperr.Invalid},
		{"too many bytes", append(append([]byte{}, valid...), make([]byte, poster.MaxImageBytes)...), apperr.TooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img, err := poster.DecodeImage("image", tc.b)
			if tc.kind == 0 {
				if err != nil || img.Width < 400 {
					t.Fatalf("DecodeImage = %+v, %v", img, err)
				}
				return
			}
			e, ok := apperr.As(err)
			if !ok || e.Kind != tc.kind || !named(e, "image") {
				t.Fatalf("DecodeImage = %v, want kind %v naming image", err, tc.kind)
			}
		})
	}
}

func TestNewFont(t *testing.T) {
	if _, err := poster.New("/nonexistent/font.ttf"); err == nil {
		t.Fatal("a missing font file loaded")
	}
	latin := "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
	if _, err := os.Stat(latin); err == nil {
		if _, err := poster.New(latin); err == nil {
			t.Fatal("a font without CJK glyphs was accepted")
		}
	}
	r := renderer(t)
	if _, err := poster.New(r.FontPath()); err != nil {
		t.Fatalf("explicit path %s: %v", r.FontPath(), err)
	}
}

func BenchmarkRenderDefault(b *testing.B) {
	r, err := poster.New("")
	if err != nil {
		b.Skip(err)
	}
	bg, l := poster.DefaultBackground(), poster.DefaultLayout()
	texts := poster.Texts{Title: "2026 冬季开卡季", StaffName: "张晓明", UnitName: "朝阳支行", Code: "7K3M9Q2X"}
	for b.Loop() {
		qr, _ := poster.QRCode(shareURL)
		if _, err := r.Render(l, bg, qr, texts); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzDecodeImage feeds arbitrary bytes to the upload check: it must
// answer an image within bounds or an Invalid/TooLarge error, never panic.
func FuzzDecodeImage(f *testing.F) {
	var jpg bytes.Buffer
	_ = jpeg.Encode(&jpg, image.NewRGBA(image.Rect(0, 0, 320, 320)), nil)
	var small bytes.Buffer
	_ = png.Encode(&small, image.NewGray(image.Rect(0, 0, 300, 300)))
	for _, seed := range [][]byte{small.Bytes(), jpg.Bytes(), []byte("GIF89a"), {0x89, 'P', 'N', 'G'}, nil} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		img, err := poster.DecodeImage("image", b)
		if err == nil {
			if img.Width < poster.MinImageSide || img.Height > poster.MaxImageSide || (img.Format != "png" && img.Format != "jpeg") {
				t.Fatalf("accepted %+v", img)
			}
			return
		}
		if k := apperr.KindOf(err); k != apperr.Invalid && k != apperr.TooLarge {
			t.Fatalf("error of kind %v: %v", k, err)
		}
	})
}

// BenchmarkRenderUploaded decodes a large uploaded JPEG background and
// renders on it: the cost of one uncached poster with a custom template.
func BenchmarkRenderUploaded(b *testing.B) {
	r, err := poster.New("")
	if err != nil {
		b.Skip(err)
	}
	src := image.NewRGBA(image.Rect(0, 0, 1500, 2668))
	for i := range src.Pix {
		src.Pix[i] = byte(i * 7)
	}
	var jpg bytes.Buffer
	_ = jpeg.Encode(&jpg, src, &jpeg.Options{Quality: 85})
	l := poster.Layout{QR: poster.QRBox{X: 450, Y: 1100, Size: 600},
		StaffName: &poster.TextBox{X: 0, Y: 1800, Width: 1500, FontSize: 80, Color: "#FFFFFF", Align: poster.AlignCenter}}
	b.ReportMetric(float64(jpg.Len()), "jpeg-bytes")
	for b.Loop() {
		img, err := poster.DecodeImage("image", jpg.Bytes())
		if err != nil {
			b.Fatal(err)
		}
		qr, _ := poster.QRCode(shareURL)
		if _, err := r.Render(l, img.Image, qr, poster.Texts{StaffName: "张晓明"}); err != nil {
			b.Fatal(err)
		}
	}
}

func TestRenderConcurrently(t *testing.T) {
	r := renderer(t)
	bg, l := poster.DefaultBackground(), poster.DefaultLayout()
	errs := make(chan error, 4)
	outs := make(chan []byte, 4)
	for i := range 4 {
		go func() {
			qr, err := poster.QRCode(shareURL + strconv.Itoa(i))
			if err != nil {
				errs <- err
				return
			}
			out, err := r.Render(l, bg, qr, poster.Texts{StaffName: "张晓明" + strconv.Itoa(i)})
			errs <- err
			outs <- out
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	for range 4 {
		seen[Decode(t, <-outs)] = true
	}
	if len(seen) != 4 {
		t.Fatalf("decoded %v", seen)
	}
}
