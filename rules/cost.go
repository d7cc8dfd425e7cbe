package rules

import (
	"fmt"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/cost"
	"cel.dev/cel-go/common/types"
)

// Rules are cost-limited three times. At publication, Parse estimates each
// condition's worst-case cost with CEL's estimator, assuming the input
// bounds below and Kind.Max facts of each kind (Prepare never passes more:
// see bound), and rejects a rule above CostLimit and a ruleset whose
// rules' estimates add up to more than BudgetLimit. At run time every
// program carries a runtime cost limit: the per-rule ones that find the
// facts a rule rests on CEL's (cel.CostLimit, CostLimit), the combined one
// of the hot path its own count of the calls it evaluates, at most
// BudgetLimit (budget.go: CEL's tracker allocates at every call). A call
// costs CEL at least one unit, so the count never stops an evaluation
// that CEL's limit would let finish. An evaluation over a limit is an
// error.
const (
	// CostLimit bounds a rule's worst-case CEL cost (about one unit per
	// operation and per list element visited): around a millisecond.
	CostLimit = 1_000_000
	// BudgetLimit bounds the sum of a ruleset's rules' worst-case costs,
	// and the calls an evaluation of its combined program makes: twice
	// CostLimit, so
	// one evaluation of a resident stays within a few milliseconds
	// however many rules a ruleset has. The default ruleset's sum is
	// 545,810, about a quarter of it.
	BudgetLimit = 2 * CostLimit
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

// checkCost returns the condition's worst-case cost and a message if it
// is above CostLimit.
func checkCost(env *cel.Env, ast *cel.Ast) (uint64, string) {
	est, err := env.EstimateCost(ast, sizeEstimator{})
	if err != nil {
		return 0, fmt.Sprintf("estimating the cost: %v", err)
	}
	if est.Max > CostLimit {
		return est.Max, fmt.Sprintf("worst-case cost %d is above the limit %d (with as many facts as Kind.Max allows)", est.Max, CostLimit)
	}
	return est.Max, ""
}
