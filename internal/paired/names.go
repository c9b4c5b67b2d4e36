package paired

// The names specs and flags give a race's options (RaceConfig's Family,
// Draws, Spending and MarginRule), and the recommended race's choice of
// each: the best setting's pairs, given the draws, alpha spent evenly over
// the rounds, ties one-sided (docs/STATISTICS.md).
var (
	FamilyNames     = map[string]Family{"all": AllPairs, "best": AgainstTheBest}
	DrawsNames      = map[string]Draws{"over": OverDraws, "given": GivenDraws}
	SpendingNames   = map[string]Spending{"by-round": ByRound, "max-rounds": OverMaxRounds}
	MarginRuleNames = map[string]MarginRule{"both-sided": BothSides, "one-sided": NoneBetter}
)

// The recommended race's option names.
const (
	RecommendedFamily     = "best"
	RecommendedDraws      = "given"
	RecommendedSpending   = "max-rounds"
	RecommendedMarginRule = "one-sided"
)
