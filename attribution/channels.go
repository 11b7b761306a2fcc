package attribution

import (
	"context"
	"errors"
	"math/big"
	"sort"

	"rmref/internal/apperr"
	"rmref/internal/auth"
)

// ModelMarkov names the data-driven model in channel reports.
const ModelMarkov = "markov"

// directChannel labels conversions reached without any touch (e.g. an
// entered invitation code alone).
const directChannel = "(direct)"

// ChannelFigure is one channel's credited conversions and amount.
type ChannelFigure struct {
	Channel     string  `json:"channel"`
	Conversions float64 `json:"conversions"`
	AmountFen   int64   `json:"amount_fen"`
}

// ChannelModel is one model's split over channels.
type ChannelModel struct {
	Model    string          `json:"model"`
	Channels []ChannelFigure `json:"channels"`
}

// ChannelsReport compares the models side by side over the campaign's
// customer paths.
type ChannelsReport struct {
	CampaignID  int64          `json:"campaign_id,string"`
	Paths       int64          `json:"paths"`
	Conversions int64          `json:"conversions"`
	Nulls       int64          `json:"nulls"`
	Models      []ChannelModel `json:"models"`
	Markov      *MarkovReport  `json:"markov"` // removal effects; nil without touched paths
}

// RuleModels are the rule-based models, in report order.
var RuleModels = []Model{LastTouch, FirstTouch, Linear, TimeDecay, PositionBased}

// Channels computes credited conversions and amount per channel under the
// rule-based models and the Markov removal-effect model (all when model is
// "") over the whole campaign; the caller checks the role (ChannelsFor
// scopes by principal).
func (b *Boards) Channels(ctx context.Context, campaignID int64, model string) (ChannelsReport, error) {
	c, err := b.Campaigns.Campaign(ctx, b.DB, campaignID)
	if err != nil {
		return ChannelsReport{}, err
	}
	return b.channelsIn(ctx, c, "", model)
}

// ChannelsFor is Channels as the caller may see it: the whole campaign for
// hq_admin, auditors and campaign managers, a manager's own subtree (see
// PathsFor), NotFound for anyone else.
func (b *Boards) ChannelsFor(ctx context.Context, p auth.Principal, campaignID int64, model string) (ChannelsReport, error) {
	c, scope, err := b.reportScope(ctx, p, campaignID)
	if err != nil {
		return ChannelsReport{}, err
	}
	return b.channelsIn(ctx, c, scope, model)
}

// channelsIn builds the channel report of the campaign within scope.
func (b *Boards) channelsIn(ctx context.Context, c Campaign, scope, model string) (ChannelsReport, error) {
	models, err := pickModels(model)
	if err != nil {
		return ChannelsReport{}, err
	}
	ps, err := b.Store.campaignPaths(ctx, b.DB, c, scope)
	if err != nil {
		return ChannelsReport{}, err
	}
	return channelsReport(c, ps, models)
}

func pickModels(model string) ([]string, error) {
	all := []string{}
	for _, m := range RuleModels {
		all = append(all, string(m))
	}
	all = append(all, ModelMarkov)
	if model == "" {
		return all, nil
	}
	for _, m := range all {
		if m == model {
			return []string{m}, nil
		}
	}
	return nil, apperr.Field("model", "must be last_touch, first_touch, linear, time_decay, position_based or markov")
}

// channelsReport splits the paths under each model.
func channelsReport(c Campaign, ps []customerPath, models []string) (ChannelsReport, error) {
	rep := ChannelsReport{CampaignID: c.ID, Paths: int64(len(ps)), Models: []ChannelModel{}}
	for _, p := range ps {
		if p.Converted {
			rep.Conversions++
		} else {
			rep.Nulls++
		}
	}
	for _, m := range models {
		if m != ModelMarkov {
			rep.Models = append(rep.Models, ruleModel(c, ps, Model(m)))
			continue
		}
		mr, cm, err := markovModel(ps)
		if err != nil {
			return ChannelsReport{}, err
		}
		rep.Markov, rep.Models = mr, append(rep.Models, cm)
	}
	return rep, nil
}

// ruleModel sums each converted path's model shares per channel (exact,
// amounts rounded half-up to the fen per channel).
func ruleModel(c Campaign, ps []customerPath, m Model) ChannelModel {
	set := c.Settings.WithDefaults()
	set.Model = m
	conv, fen := map[string]*big.Rat{}, map[string]*big.Rat{}
	add := func(ch string, share *big.Rat, amount int64) {
		if conv[ch] == nil {
			conv[ch], fen[ch] = new(big.Rat), new(big.Rat)
		}
		conv[ch].Add(conv[ch], share)
		fen[ch].Add(fen[ch], new(big.Rat).Mul(share, big.NewRat(amount, 1)))
	}
	for _, p := range ps {
		switch {
		case !p.Converted:
		case len(p.Touches) == 0:
			add(directChannel, big.NewRat(1, 1), p.AmountFen)
		default:
			for i, sh := range modelShares(set, p.At, p.Touches) {
				add(p.Touches[i].Channel, sh, p.AmountFen)
			}
		}
	}
	out := ChannelModel{Model: string(m), Channels: []ChannelFigure{}}
	for ch := range conv {
		if conv[ch].Sign() == 0 {
			continue // a touch the model gives nothing
		}
		f, _ := conv[ch].Float64()
		out.Channels = append(out.Channels, ChannelFigure{Channel: ch, Conversions: roundMicro(f), AmountFen: roundHalfUp(fen[ch])})
	}
	sortFigures(out.Channels)
	return out
}

// markovModel runs the exact Markov model over the touched paths (with
// their nulls); conversions without touches stay with "(direct)".
func markovModel(ps []customerPath) (*MarkovReport, ChannelModel, error) {
	var mps []MarkovPath
	direct := ChannelFigure{Channel: directChannel}
	for _, p := range ps {
		switch {
		case len(p.Touches) == 0 && p.Converted:
			direct.Conversions++
			direct.AmountFen += p.AmountFen
		case len(p.Touches) == 0:
		case p.Converted:
			mps = append(mps, MarkovPath{Channels: p.channels(), Conversions: 1, ValueFen: max(p.AmountFen, 0)})
		default:
			mps = append(mps, MarkovPath{Channels: p.channels(), Nulls: 1})
		}
	}
	out := ChannelModel{Model: ModelMarkov, Channels: []ChannelFigure{}}
	if direct.Conversions > 0 {
		out.Channels = append(out.Channels, direct)
	}
	rep, err := Markov(mps)
	if errors.Is(err, ErrNoPaths) || len(mps) == 0 {
		sortFigures(out.Channels)
		return nil, out, nil
	}
	if err != nil {
		return nil, ChannelModel{}, err
	}
	for _, ch := range rep.Channels {
		out.Channels = append(out.Channels, ChannelFigure{Channel: ch.Channel, Conversions: roundMicro(ch.Conversions), AmountFen: ch.ValueFen})
	}
	sortFigures(out.Channels)
	return &rep, out, nil
}

func roundMicro(f float64) float64 {
	r := new(big.Rat)
	r.SetFloat64(f * WeightScale)
	return float64(roundHalfUp(r)) / WeightScale
}

func sortFigures(fs []ChannelFigure) {
	sort.Slice(fs, func(i, j int) bool {
		if fs[i].Conversions != fs[j].Conversions {
			return fs[i].Conversions > fs[j].Conversions
		}
		return fs[i].Channel < fs[j].Channel
	})
}
