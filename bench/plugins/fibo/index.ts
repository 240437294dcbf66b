/** bench/fibo: naive Fibonacci, W1's lightweight task. */

const fibo = (n: number): number => (n < 2 ? n : fibo(n - 1) + fibo(n - 2))

export default { actions: { compute: (input: { n: number }) => ({ value: fibo(input.n) }) } }
