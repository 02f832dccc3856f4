"""`make bench`: Baton's throughput, latency, claims and memory against this machine's limits.

Everything runs on one machine in one run, on a local stack of its own (`.stack/bench`),
whose servers start from empty data each time; each regime's services run on topics and a
database of their own. The phases (`--phases` picks some), in the order they run:

- `baseline`: B, a raw aiokafka consume -> produce relay with the services' producer
  settings (acks=all, not idempotent) and the same message size.
- `throughput`, with the scripted model at zero latency: user messages per second from HTTP
  submission to `message.sent`, sustained, and its ratio to B. Each phase counts the
  accepted messages without a reply (lost), with two different replies (duplicated), and
  `message.sent` records seen more than once (repeated events).
- `latency`: end-to-end latency at half that rate (or `--latency-rate`), p50 / p95 / p99
  from ingest's accept to `message.sent`, also without each reply's model call (as the
  ai-responder timed it and stored it with the reply), and the latency each hop adds (from
  what the services stored and the reply's own timestamps). After unmeasured warm-ups
  (`--warmup` at full speed first, `--half-warmup` at that rate); then the same at lower
  rates (`--curve`, fractions of the sustained rate, each after `--curve-warmup`): the
  highest rate up to which the p99 without the model call stays within 50 ms.
- `claims`: claims per second with 10 and 50 concurrent agents on the human-queue API,
  against a raw `find_one_and_update` loop on the same server, with the double claims.
- `memory`: peak memory (VmHWM) of each process.
- `model-throughput`: the sustained rate with a model that always takes 1 s
  (`--fixed-model-ms`) and the ai-responder's model calls in flight raised to 256
  (`--llm-max-concurrent`), offered the zero-latency rate; its ratio to that rate.
- `head-of-line`, with every model call's latency drawn from a seeded lognormal (median
  800 ms, p99 6 s: `--model-median-ms`, `--model-p99-ms`, `--seed`): six calls of 8 s in
  flight (`--slow-calls`, `--slow-call-ms`) while ordinary messages flow (`--hol-rate`),
  and how much those replies' latency exceeds their own model call (max, p50, p99).
- `added-latency`, with the same model: the latency each reply adds to its model call at 50
  msg/s (`--added-rate`) and at the highest rate held (`--held-rate`, or `--held-fraction`
  of the rate sustained with the fixed model).
- `streaming`, with the scripted model writing at 60 tokens a second after a lognormal
  first-token latency (median 500 ms, p99 2.5 s: `--stream-tokens-per-s`,
  `--stream-first-token-median-ms`, `--stream-first-token-p99-ms`): questions at 10 msg/s
  (`--stream-rate`) answered by streamed replies of about 500 characters; the time from
  ingest's accept to each reply's first `message.delta`, against the time to its
  `message.sent`, as a gateway watching both topics sees them, and whether the deltas of
  each reply make up its text.
- `scaling`: one, then two instances of every service on the same topics (`--scaling-
  partitions`, 6) under the same offered load (`--scaling-rate`, 40 msg/s) with the
  lognormal model and the ai-responder's default of 32 model calls in flight per instance
  (`--scaling-llm-max-concurrent`): the rate sustained, the latency percentiles and the CPU
  each service spent per message, for each, the one-instance run as the baseline.
- `floor`: Kafka alone at the latency phase's rate, with the services stopped: the
  pipeline's three hops as bare aiokafka relays (a producer, two relay processes, a sink)
  with the services' producer settings; the floor under the pipeline's latency and CPU.

With the throughput and each latency phase it records the CPU time each process used (the
services, Kafka, the MongoDB server, and the bench's own) and the MongoDB commands each
service sent. `--profile` also samples every service and the bench with py-spy during the
zero-latency phases and writes the collapsed stacks to `bench-results/profiles/`
(flamegraph input; a folder per latency phase), printing the hottest functions at the end.

Results go to `bench-results/bench.json` and `bench-results/bench.png`, with each target
met or not: head-of-line (no ordinary reply's added latency above 250 ms, p99 within
100 ms), added latency p99 at 50 msg/s within 50 ms, throughput with the 1 s model at least
0.8 of the zero-latency rate, and the zero-latency rate at least 0.4 of B.
"""

from .cli import PHASES, fractions, main, phases

__all__ = ["PHASES", "fractions", "main", "phases"]
