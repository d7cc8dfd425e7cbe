package rules

import (
	"fmt"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/interpreter"
)

// The combined program's runtime cost limit (cost.go). CEL's own
// (cel.CostLimit) tracks the cost through an observer that allocates at
// every call: about 50 allocations an evaluation of the default ruleset,
// which made an evaluation 2.4 times as slow. Every evaluation of every
// resident runs the combined program, at each time an exact evaluation
// checks, so it counts its calls itself instead: each call of a function
// or operator that the program evaluates costs one unit, and the
// evaluation that would spend more than BudgetLimit units is stopped with
// an error (as CEL stops one over cel.CostLimit). A call's own work is
// bounded (texts by maxText, lists by Kind.Max), so the count bounds the
// time. The per-rule programs, which run only to find the facts a
// matched rule rests on, keep cel.CostLimit.

// budgetName is the variable through which a charged call finds its
// evaluation's budget: the activation answers it (activation.ResolveName),
// comprehension scopes pass it up.
const budgetName = "@healthcode.budget"

// budget is what one evaluation of the combined program may still spend.
type budget struct{ left uint64 }

// chargeCalls is a decorator that makes every call of the program charge
// the budget.
func chargeCalls() cel.ProgramOption {
	return cel.CustomDecoratorV2(func(i interpreter.InterpretableV2) (interpreter.InterpretableV2, error) {
		if call, ok := i.(interpreter.InterpretableCall); ok {
			return &charged{InterpretableCall: call}, nil
		}
		return i, nil
	})
}

// charged is a call that charges one unit before it runs.
type charged struct {
	interpreter.InterpretableCall
}

func (c *charged) Exec(frame *interpreter.ExecutionFrame) ref.Val {
	v, _ := frame.ResolveName(budgetName)
	b, ok := v.(*budget)
	if !ok {
		// Only CEL's constant folding, at planning, evaluates without an
		// activation: match always gives one.
		return c.InterpretableCall.Exec(frame)
	}
	if b.left == 0 {
		panic(interpreter.EvalCancelledError{Cause: interpreter.CostLimitExceeded,
			Message: fmt.Sprintf("operation cancelled: actual cost limit exceeded (more than %d calls)", budgetLimit)})
	}
	b.left--
	return c.InterpretableCall.Exec(frame)
}

func (c *charged) Eval(a interpreter.Activation) ref.Val {
	return interpreter.EvalActivation(a, c.Exec)
}

// budgetLimit is BudgetLimit; tests lower it.
var budgetLimit uint64 = BudgetLimit
