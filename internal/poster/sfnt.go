package poster

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
)

// errBadSfnt means the font file's table directory is malformed.
var errBadSfnt = errors.New("poster: malformed font table directory")

// extractFace copies one face of a font (offset: where its table directory
// starts; 0 for a TTF/OTF, from the TTC header for a collection) into a
// standalone font whose tables begin on four-byte boundaries. Some
// collections (WenQuanYi Micro Hei) pack tables unaligned, which
// golang.org/x/image/font/sfnt refuses.
func extractFace(b []byte, offset int) ([]byte, error) {
	if offset < 0 || offset+12 > len(b) {
		return nil, errBadSfnt
	}
	n := int(binary.BigEndian.Uint16(b[offset+4:]))
	if n == 0 || offset+12+16*n > len(b) {
		return nil, errBadSfnt
	}
	type table struct {
		tag, sum uint32
		data     []byte
	}
	tables := make([]table, n)
	for i := range tables {
		r := b[offset+12+16*i:]
		o, l := int(binary.BigEndian.Uint32(r[8:])), int(binary.BigEndian.Uint32(r[12:]))
		if o < 0 || l < 0 || o+l > len(b) || o+l < o {
			return nil, fmt.Errorf("%w: table %d out of bounds", errBadSfnt, i)
		}
		tables[i] = table{binary.BigEndian.Uint32(r), binary.BigEndian.Uint32(r[4:]), b[o : o+l]}
	}
	sort.Slice(tables, func(i, j int) bool { return tables[i].tag < tables[j].tag })
	out := make([]byte, 12+16*n)
	copy(out, b[offset:offset+12])
	for i, t := range tables {
		r := out[12+16*i:]
		binary.BigEndian.PutUint32(r, t.tag)
		binary.BigEndian.PutUint32(r[4:], t.sum)
		binary.BigEndian.PutUint32(r[8:], uint32(len(out)))
		binary.BigEndian.PutUint32(r[12:], uint32(len(t.data)))
		out = append(out, t.data...)
		for len(out)%4 != 0 {
			out = append(out, 0)
		}
	}
	return out, nil
}

// firstFaceOffset returns where the first face's table directory starts in
// a font file: after the TTC header for a collection, else 0.
func firstFaceOffset(b []byte) (int, error) {
	if len(b) < 16 || string(b[:4]) != "ttcf" {
		return 0, nil
	}
	if binary.BigEndian.Uint32(b[8:]) == 0 {
		return 0, errBadSfnt
	}
	return int(binary.BigEndian.Uint32(b[12:])), nil
}
