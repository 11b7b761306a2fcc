// Package qrtest decodes QR codes in tests with real decoders: gozxing (a Go
// port of ZXing) always, and Debian's zbarimg where it is installed.
//
// ZXing's detector misreads roughly one clean, correctly encoded QR code in
// three hundred (it mis-estimates the alignment pattern; zbarimg reads the
// same images), so Decode tries ZXing's documented strategies in turn — try
// harder and pure barcode, at 1×, 2× and 3× nearest-neighbour scale — before it gives up.
// Each strategy either decodes the symbol or fails; none can invent text, so
// the fallbacks make tests deterministic without making them lenient.
package qrtest

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/draw"
	_ "image/png" // PNG decoder for Decode
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
)

// Decode reads the one QR code in a PNG (or any registered image format)
// with gozxing and, when every gozxing strategy fails, with zbarimg where it
// is installed.
func Decode(png []byte) (string, error) {
	img, _, err := image.Decode(bytes.NewReader(png))
	if err != nil {
		return "", fmt.Errorf("decode image: %w", err)
	}
	text, zxErr := DecodeImage(img)
	if zxErr == nil {
		return text, nil
	}
	if text, ok, err := Zbar(png); ok && err == nil && text != "" {
		return text, nil
	}
	return "", zxErr
}

// DecodeImage is Decode for an image already in memory.
func DecodeImage(img image.Image) (string, error) {
	var errs []error
	try := func(name string, im image.Image, hints map[gozxing.DecodeHintType]any) (string, bool) {
		bmp, err := gozxing.NewBinaryBitmapFromImage(im)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			return "", false
		}
		r, err := qrcode.NewQRCodeReader().Decode(bmp, hints)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			return "", false
		}
		return r.GetText(), true
	}
	hard := map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_TRY_HARDER: true}
	pure := map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_PURE_BARCODE: true}
	for k := 1; k <= 3; k++ {
		im := img
		if k > 1 {
			im = scale(img, k)
		}
		if s, ok := try(fmt.Sprintf("try-harder ×%d", k), im, hard); ok {
			return s, nil
		}
		if s, ok := try(fmt.Sprintf("pure ×%d", k), im, pure); ok {
			return s, nil
		}
	}
	return "", fmt.Errorf("no QR code found: %w", errors.Join(errs...))
}

// scale enlarges the image k times with nearest-neighbour sampling, which
// keeps the modules sharp but moves ZXing's sampling grid.
func scale(src image.Image, k int) image.Image {
	b := src.Bounds()
	rgba := image.NewRGBA(b)
	draw.Draw(rgba, b, src, b.Min, draw.Src)
	dst := image.NewRGBA(image.Rect(0, 0, k*b.Dx(), k*b.Dy()))
	for y := 0; y < dst.Bounds().Dy(); y++ {
		for x := 0; x < dst.Bounds().Dx(); x++ {
			dst.Set(x, y, rgba.At(b.Min.X+x/k, b.Min.Y+y/k))
		}
	}
	return dst
}

// Zbar decodes a PNG with zbarimg; ok is false when zbarimg is not installed.
// A decoding failure is an error, never "not installed".
func Zbar(png []byte) (text string, ok bool, err error) {
	bin, lookErr := exec.LookPath("zbarimg")
	if lookErr != nil {
		return "", false, nil
	}
	dir, err := os.MkdirTemp("", "qrtest")
	if err != nil {
		return "", true, err
	}
	defer os.RemoveAll(dir)
	f := filepath.Join(dir, "qr.png")
	if err := os.WriteFile(f, png, 0o600); err != nil {
		return "", true, err
	}
	out, err := exec.Command(bin, "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", f).Output()
	if err != nil {
		return "", true, fmt.Errorf("zbarimg: %w", err)
	}
	return strings.TrimSpace(string(out)), true, nil
}
