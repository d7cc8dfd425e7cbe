package rules

import (
	"fmt"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/cost"
	"cel.dev/cel-go/common/types"
)

// Rules are cost-limited twice. At publication, Parse estimates each
// condition's worst-case cost with CEL's estimator, assuming the input
// bounds below, and rejects a rule above CostLimit; Prepare refuses inputs
// beyond the bounds. So the combined program on the hot path needs no cost
// tracking. The per-rule programs, which find the facts a rule rests on,
// also carry cel.CostLimit at run time.
const (
	// CostLimit bounds a rule's worst-case CEL cost (about one unit per
	// operation and per list element visited): around a millisecond.
	CostLimit = 1_000_000
	// MaxCaseIDs bounds the cases one risk-area designation cites.
	MaxCaseIDs = 1000
	maxText    = 128
)

type sizeEstimator struct{}

func (sizeEstimator) EstimateSize(n cost.AstNode) *cost.SizeEstimate {
	path := n.Path()
	if len(path) == 0 {
		return nil
	}
	bound := func(max int) *cost.SizeEstimate { return &cost.SizeEstimate{Min: 0, Max: uint64(max)} }
	t := n.Type()
	switch {
	case t.Kind() == types.StringKind:
		return bound(maxText)
	case len(path) == 2 && path[0] == "facts":
		for _, k := range kinds {
			if k.List == path[1] {
				return bound(k.Max)
			}
		}
	case len(path) == 1 && path[0] == "areas":
		return bound(kinds[kindIndex(KindAreaVisit)].Max)
	case len(path) == 2 && path[0] == "areas":
		return bound(kinds[kindIndex(KindRiskArea)].Max)
	case t.Kind() == types.ListKind:
		return bound(MaxCaseIDs)
	}
	return nil
}

func (sizeEstimator) EstimateCallCost(function, overloadID string, target *cost.AstNode, args []cost.AstNode) *cost.CallEstimate {
	return nil
}

// checkCost returns a message if the condition's worst-case cost is above
// CostLimit.
func checkCost(env *cel.Env, ast *cel.Ast) string {
	est, err := env.EstimateCost(ast, sizeEstimator{})
	if err != nil {
		return fmt.Sprintf("estimating the cost: %v", err)
	}
	if est.Max > CostLimit {
		return fmt.Sprintf("worst-case cost %d is above the limit %d (with as many facts as Kind.Max allows)", est.Max, CostLimit)
	}
	return ""
}
