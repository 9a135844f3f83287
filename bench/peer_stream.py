#!/usr/bin/env python3
"""Python peer of the streaming scorer, and the latency/throughput reader of bench_stream.sh.

  peer_stream.py train TRAIN.tsv OUT.joblib
      Fits the reference pipeline: TF-IDF word 1-2 grams + TF-IDF char_wb 2-5 grams
      (sublinear tf) -> LogisticRegression(class_weight="balanced").
  peer_stream.py run MODEL.joblib SCHEMA_DIR BOOTSTRAP IN_TOPIC OUT_TOPIC GROUP EXPECT
      The same loop as `sentistream consume`, batch for batch: consume up to 512 messages or
      5 ms, decode the Avro tweets (fastavro), one predict_proba per batch, encode Avro
      predictions, produce with an idempotent producer (key = tweet id), store an input
      offset only after its prediction was delivered (contiguous prefix per partition),
      commit every second. Exits after EXPECT predictions were delivered.
  peer_stream.py measure DUMP SCHEMA_DIR MODE [INPUT_DUMP]
      Reads a kcat '%R%s' dump of predictions; prints n, throughput (tweets/s) and the
      latency p50/p99 of scored_at - created_at. MODE rate: throughput over
      [first created_at, last scored_at]; MODE max (input preloaded): the steady state,
      the middle 80% of the predictions over the time between the 10th and the 90th
      percentile of scored_at; latency not meaningful.
      MODE rate also prints p99_after1s_ms: the p99 of the tweets created one second or
      more after the first (start-up left out). With INPUT_DUMP, a kcat '%T %R%s' dump of
      the input topic created with message.timestamp.type=LogAppendTime (%T: when the
      broker appended the tweet), the latency is split in two at that instant, joined on
      (tweet id, created_at): p50/p99_to_broker_ms (created_at -> appended: the producer's
      batching and the broker's produce path) and p50/p99_from_broker_ms (appended ->
      scored_at: the broker's fetch path, the scorer's queue, batch and scoring).
"""
import collections
import io
import json
import struct
import sys
import time


def load_schema(schema_dir, name):
    import fastavro
    with open(f"{schema_dir}/{name}.avsc") as f:
        return fastavro.parse_schema(json.load(f), named_schemas={})


def read_tsv(path):
    texts, labels = [], []
    for line in open(path, encoding="utf-8"):
        parts = line.rstrip("\n").split("\t", 2)
        if len(parts) == 3:
            labels.append(parts[1])
            texts.append(parts[2])
    return texts, labels


def cmd_train(train_tsv, out):
    import joblib
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline, make_union
    texts, labels = read_tsv(train_tsv)
    pipe = make_pipeline(
        make_union(
            TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True),
            TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True),
        ),
        LogisticRegression(class_weight="balanced", max_iter=1000),
    )
    t0 = time.time()
    pipe.fit(texts, labels)
    joblib.dump(pipe, out)
    print(f"peer: trained on {len(texts)} tweets in {time.time() - t0:.1f} s -> {out}")


class Ledger:
    """Per input partition: offsets in consumption order, done when delivered."""

    def __init__(self, consumer, topic):
        self.consumer, self.topic = consumer, topic
        self.pending = collections.defaultdict(collections.deque)
        self.done = collections.defaultdict(set)

    def enter(self, partition, offset):
        self.pending[partition].append(offset)

    def ack(self, partition, offset):
        from confluent_kafka import TopicPartition
        q, d = self.pending[partition], self.done[partition]
        d.add(offset)
        last = None
        while q and q[0] in d:
            last = q.popleft()
            d.discard(last)
        if last is not None:
            self.consumer.store_offsets(offsets=[TopicPartition(self.topic, partition, last + 1)])


def cmd_run(model_path, schema_dir, bootstrap, in_topic, out_topic, group, expect):
    import fastavro
    import joblib
    from confluent_kafka import Consumer, Producer
    expect = int(expect)
    pipe = joblib.load(model_path)
    classes = list(pipe.classes_)
    order = [classes.index(c) for c in ("negative", "neutral", "positive")]
    tweet_s = load_schema(schema_dir, "tweet")
    pred_s = load_schema(schema_dir, "prediction")
    header = b"\x00" + struct.pack(">i", 2)
    consumer = Consumer({
        "bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest",
        "enable.auto.commit": False, "enable.auto.offset.store": False,
        "partition.assignment.strategy": "cooperative-sticky"})
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True,
                         "linger.ms": 5})
    consumer.subscribe([in_topic])
    ledger = Ledger(consumer, in_topic)
    delivered = [0]

    def on_delivery(part, off):
        def cb(err, msg):
            if err is None:
                delivered[0] += 1
                ledger.ack(part, off)
            else:  # re-produce, as the scorer does
                producer.produce(out_topic, msg.value(), msg.key(), on_delivery=cb)
        return cb

    last_commit = time.time()
    while delivered[0] < expect:
        msgs = consumer.consume(num_messages=512, timeout=0.005)
        batch = []
        for m in msgs:
            if m.error():
                continue
            ledger.enter(m.partition(), m.offset())
            t = fastavro.schemaless_reader(io.BytesIO(m.value()[5:]), tweet_s)
            batch.append((m, t))
        if batch:
            probs = pipe.predict_proba([t["text"] for _, t in batch])
            now = int(time.time() * 1000)
            for (m, t), p in zip(batch, probs):
                p = [float(p[i]) for i in order]
                rec = {"tweet_id": t["id"], "label": ("negative", "neutral", "positive")[
                    max(range(3), key=lambda i: p[i])], "prob_negative": p[0],
                    "prob_neutral": p[1], "prob_positive": p[2], "model_name": "sklearn-peer",
                    "model_version": "peer", "created_at": t["created_at"], "scored_at": now,
                    "input_stats": None}
                buf = io.BytesIO()
                buf.write(header)
                fastavro.schemaless_writer(buf, pred_s, rec)
                producer.produce(out_topic, buf.getvalue(), t["id"].encode(),
                                 on_delivery=on_delivery(m.partition(), m.offset()))
        producer.poll(0)
        if time.time() - last_commit >= 1.0:
            last_commit = time.time()
            try:
                consumer.commit(asynchronous=True)
            except Exception:
                pass  # nothing stored yet
    producer.flush(30)
    try:
        consumer.commit(asynchronous=False)
    except Exception:
        pass
    consumer.close()
    print(f"peer: {delivered[0]} predictions delivered")


def to_ms(v):
    return v if isinstance(v, int) else int(round(v.timestamp() * 1000))


def read_appended(dump, schema_dir):
    """{(tweet id, created_at ms): broker append time ms} of a kcat '%T %R%s' dump."""
    import fastavro
    schema = load_schema(schema_dir, "tweet")
    data = open(dump, "rb").read()
    out, i = {}, 0
    while i < len(data):
        sp = data.index(b" ", i)
        t = int(data[i:sp])
        (n,) = struct.unpack(">i", data[sp + 1:sp + 5])
        i = sp + 5
        r = fastavro.schemaless_reader(io.BytesIO(data[i + 5:i + n]), schema)
        i += n
        out[(r["id"], to_ms(r["created_at"]))] = t
    return out


def pct(v, q):
    v = sorted(v)
    return v[int(q * (len(v) - 1))]


def cmd_measure(dump, schema_dir, mode, input_dump=None):
    import fastavro
    schema = load_schema(schema_dir, "prediction")
    data = open(dump, "rb").read()
    appended = read_appended(input_dump, schema_dir) if input_dump else {}
    lat, created, scored, i = [], [], [], 0
    to_broker, from_broker = [], []
    while i < len(data):
        (n,) = struct.unpack(">i", data[i:i + 4])
        i += 4
        r = fastavro.schemaless_reader(io.BytesIO(data[i + 5:i + n]), schema)
        i += n
        c, s = to_ms(r["created_at"]), to_ms(r["scored_at"])
        created.append(c)
        scored.append(s)
        lat.append(s - c)
        a = appended.get((r["tweet_id"], c))
        if a is not None:
            to_broker.append(a - c)
            from_broker.append(s - a)
    n = len(lat)
    if n == 0:
        print("n=0")
        return
    t0 = min(created)
    steady = [x for x, c in zip(lat, created) if c - t0 >= 1000]
    lat.sort()
    if mode == "rate":
        span = (max(scored) - min(created)) / 1000.0
        tput = n / span if span > 0 else float("inf")
    else:
        # Flat out: the steady state, between the 10th and the 90th percentile of scored_at
        # (the start-up, with a new output topic's metadata and the first fetches, and the
        # drain at the end are left out).
        scored.sort()
        lo, hi = int(0.1 * (n - 1)), int(0.9 * (n - 1))
        span = (scored[hi] - scored[lo]) / 1000.0
        tput = (hi - lo) / span if span > 0 else float("inf")
    p50 = lat[int(0.50 * (n - 1))]
    p99 = lat[int(0.99 * (n - 1))]
    extra = ""
    if mode == "rate" and steady:
        extra += f" p99_after1s_ms={pct(steady, 0.99)}"
    if mode == "rate" and to_broker:
        extra += (f" p50_to_broker_ms={pct(to_broker, 0.5)} p99_to_broker_ms={pct(to_broker, 0.99)}"
                  f" p50_from_broker_ms={pct(from_broker, 0.5)}"
                  f" p99_from_broker_ms={pct(from_broker, 0.99)}")
        if len(to_broker) < n:
            extra += f" joined={len(to_broker)}"
    print(f"n={n} throughput={tput:.0f} p50_ms={p50} p99_ms={p99}{extra}")


def main():
    cmds = {"train": (cmd_train, 2), "run": (cmd_run, 7), "measure": (cmd_measure, 3)}
    optional = {"measure": 1}  # trailing optional arguments
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        sys.exit(__doc__)
    nargs = len(sys.argv) - 2
    want = cmds[sys.argv[1]][1]
    if not want <= nargs <= want + optional.get(sys.argv[1], 0):
        sys.exit(__doc__)
    cmds[sys.argv[1]][0](*sys.argv[2:])


if __name__ == "__main__":
    main()
