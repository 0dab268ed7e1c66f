/**
 * Costs as people read them: the CLI reports sums like 0.008219999999999998; six decimals
 * (a millionth of a dollar) is finer than any price and drops the float noise.
 */
export const roundUsd = (usd: number): number => Math.round(usd * 1e6) / 1e6;
