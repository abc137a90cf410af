"""FLOPs per execution: count (the entry), ops (formulas), control, static, lower."""
