package attribution

import (
	"errors"
	"fmt"
	"math"
	"sort"
)

// MarkovPath is one observed customer path (or an aggregate of identical
// paths): the channels touched in order, how many times it ended in a
// conversion (with their total value in fen) and how many times it did not.
type MarkovPath struct {
	Channels    []string
	Conversions int64
	ValueFen    int64
	Nulls       int64
}

// MarkovChannel is one channel's share under the removal-effect model.
type MarkovChannel struct {
	Channel       string  `json:"channel"`
	RemovalEffect float64 `json:"removal_effect"` // 1 - P(conv without channel)/P(conv)
	Share         float64 `json:"share"`          // removal effect normalised over channels
	Conversions   float64 `json:"conversions"`    // total conversions × share
	ValueFen      int64   `json:"value_fen"`      // total value × share, largest remainder
}

// MarkovReport is the result of the first-order Markov-chain model.
type MarkovReport struct {
	ConversionProbability float64         `json:"conversion_probability"` // from start, all channels present
	TotalConversions      int64           `json:"total_conversions"`
	TotalValueFen         int64           `json:"total_value_fen"`
	Channels              []MarkovChannel `json:"channels"`
}

// ErrNoPaths reports a model asked of no paths.
var ErrNoPaths = errors.New("attribution: markov: no paths")

// Markov computes the first-order Markov-chain removal effects of the
// channels in paths, exactly: the probability of reaching the conversion
// state from the start state is the solution of a linear system over the
// transient (channel) states, solved by Gaussian elimination, not by
// simulation, so results are reproducible.
//
// States are start, one per channel, conversion and null. Each path adds
// its weight (conversions + nulls) to start → c1 → … → cn, then its
// conversions to cn → conversion and its nulls to cn → null. Consecutive
// repeats of one channel are collapsed (a self-loop does not change
// absorption probabilities). Removing a channel sends every transition into
// it to null. The removal effect of c is 1 − P(conv | c removed) / P(conv);
// shares are effects normalised to sum to 1, and the observed conversions
// and value are split by share (value by largest remainder, to the fen).
func Markov(paths []MarkovPath) (MarkovReport, error) {
	m := newChain()
	var rep MarkovReport
	for _, p := range paths {
		if p.Conversions < 0 || p.Nulls < 0 || p.ValueFen < 0 {
			return rep, fmt.Errorf("attribution: markov: negative counts in path %v", p.Channels)
		}
		if len(p.Channels) == 0 || p.Conversions+p.Nulls == 0 {
			continue
		}
		m.add(collapse(p.Channels), p.Conversions, p.Nulls)
		rep.TotalConversions += p.Conversions
		rep.TotalValueFen += p.ValueFen
	}
	if len(m.names) == 0 {
		return rep, ErrNoPaths
	}
	base := m.convProb(-1)
	rep.ConversionProbability = base
	effects := make([]float64, len(m.names))
	var sum float64
	for i := range m.names {
		if base > 0 {
			effects[i] = math.Max(0, 1-m.convProb(i)/base)
		}
		sum += effects[i]
	}
	rep.Channels = make([]MarkovChannel, len(m.names))
	for i, name := range m.names {
		share := 0.0
		if sum > 0 {
			share = effects[i] / sum
		}
		rep.Channels[i] = MarkovChannel{Channel: name, RemovalEffect: effects[i], Share: share, Conversions: share * float64(rep.TotalConversions)}
	}
	splitValue(rep.Channels, rep.TotalValueFen)
	sort.SliceStable(rep.Channels, func(a, b int) bool {
		if rep.Channels[a].Share != rep.Channels[b].Share {
			return rep.Channels[a].Share > rep.Channels[b].Share
		}
		return rep.Channels[a].Channel < rep.Channels[b].Channel
	})
	return rep, nil
}

func collapse(chs []string) []string {
	out := make([]string, 0, len(chs))
	for i, c := range chs {
		if i == 0 || c != chs[i-1] {
			out = append(out, c)
		}
	}
	return out
}

// chain holds transition counts: start, channels 0..n-1, conv, null.
type chain struct {
	names  []string
	index  map[string]int
	start  map[int]float64         // start → channel
	trans  map[int]map[int]float64 // channel → channel
	toConv map[int]float64
	toNull map[int]float64
}

func newChain() *chain {
	return &chain{index: map[string]int{}, start: map[int]float64{}, trans: map[int]map[int]float64{}, toConv: map[int]float64{}, toNull: map[int]float64{}}
}

func (m *chain) id(name string) int {
	if i, ok := m.index[name]; ok {
		return i
	}
	m.index[name] = len(m.names)
	m.names = append(m.names, name)
	return len(m.names) - 1
}

func (m *chain) add(chs []string, conv, nulls int64) {
	w := float64(conv + nulls)
	prev := m.id(chs[0])
	m.start[prev] += w
	for _, c := range chs[1:] {
		cur := m.id(c)
		if m.trans[prev] == nil {
			m.trans[prev] = map[int]float64{}
		}
		m.trans[prev][cur] += w
		prev = cur
	}
	m.toConv[prev] += float64(conv)
	m.toNull[prev] += float64(nulls)
}

// convProb returns P(reach conversion from start) with channel removed
// (-1: none) turned into a null state.
func (m *chain) convProb(removed int) float64 {
	n := len(m.names)
	// Solve x = Q x + r, i.e. (I − Q) x = r, over channels ≠ removed.
	a := make([][]float64, n)
	for i := range a {
		a[i] = make([]float64, n+1)
		a[i][i] = 1
		if i == removed {
			continue // x_removed = 0
		}
		total := m.toConv[i] + m.toNull[i]
		for _, w := range m.trans[i] {
			total += w
		}
		if total == 0 {
			continue
		}
		for j, w := range m.trans[i] {
			if j != removed {
				a[i][j] -= w / total
			}
		}
		a[i][n] = m.toConv[i] / total
	}
	x := solve(a)
	var startTotal, p float64
	for _, w := range m.start {
		startTotal += w
	}
	for j, w := range m.start {
		if j != removed {
			p += w / startTotal * x[j]
		}
	}
	return p
}

// solve solves the augmented system a (n × n+1) by Gaussian elimination
// with partial pivoting. I − Q of an absorbing chain is non-singular; a
// zero pivot (a closed loop that never absorbs) gives probability 0.
func solve(a [][]float64) []float64 {
	n := len(a)
	for col := 0; col < n; col++ {
		piv := col
		for r := col + 1; r < n; r++ {
			if math.Abs(a[r][col]) > math.Abs(a[piv][col]) {
				piv = r
			}
		}
		a[col], a[piv] = a[piv], a[col]
		if math.Abs(a[col][col]) < 1e-15 {
			continue
		}
		for r := 0; r < n; r++ {
			if r == col || a[r][col] == 0 {
				continue
			}
			f := a[r][col] / a[col][col]
			for k := col; k <= n; k++ {
				a[r][k] -= f * a[col][k]
			}
		}
	}
	x := make([]float64, n)
	for i := range x {
		if math.Abs(a[i][i]) >= 1e-15 {
			x[i] = a[i][n] / a[i][i]
		}
	}
	return x
}

// splitValue gives each channel its share of total fen by largest
// remainder, so the parts sum exactly to total (ties to the earlier channel
// in first-seen order).
func splitValue(chs []MarkovChannel, total int64) {
	type rem struct {
		i int
		r float64
	}
	var given int64
	rems := make([]rem, len(chs))
	for i := range chs {
		exact := chs[i].Share * float64(total)
		fl := math.Floor(exact)
		chs[i].ValueFen = int64(fl)
		given += int64(fl)
		rems[i] = rem{i, exact - fl}
	}
	var shareSum float64
	for _, c := range chs {
		shareSum += c.Share
	}
	if shareSum == 0 {
		return
	}
	sort.SliceStable(rems, func(a, b int) bool { return rems[a].r > rems[b].r })
	for k := 0; given < total && k < len(rems); k++ {
		chs[rems[k].i].ValueFen++
		given++
	}
}
