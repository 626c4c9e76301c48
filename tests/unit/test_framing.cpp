#include "tcp_server/framing.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace tcp_server {
namespace {

struct Line {
  std::string payload;
  std::size_t dropped;
  bool operator==(const Line&) const = default;
};

std::ostream& operator<<(std::ostream& out, const Line& line) {
  return out << '"' << line.payload << "\" +" << line.dropped;
}

// Feeds the chunks in order and collects every line, finishing the stream at the end.
std::vector<Line> frame_all(LineFramer& framer, const std::vector<std::string>& chunks,
                            bool finish = true) {
  std::vector<Line> lines;
  Frame frame;
  for (const auto& chunk : chunks) {
    framer.append(chunk);
    while (framer.next(frame) == FrameStatus::kFrame) {
      lines.push_back({std::string(frame.payload), frame.dropped_bytes});
    }
  }
  while (framer.next(frame) == FrameStatus::kFrame) {
    lines.push_back({std::string(frame.payload), frame.dropped_bytes});
  }
  if (finish && framer.finish(frame)) {
    lines.push_back({std::string(frame.payload), frame.dropped_bytes});
  }
  return lines;
}

TEST(LineFramer, SplitsSeveralLinesInOneRead) {
  LineFramer framer(100);
  EXPECT_EQ(frame_all(framer, {"a\nbb\nccc\n"}),
            (std::vector<Line>{{"a", 0}, {"bb", 0}, {"ccc", 0}}));
  EXPECT_TRUE(framer.empty());
}

TEST(LineFramer, JoinsOneLineSplitOverManyReads) {
  LineFramer framer(100);
  EXPECT_EQ(frame_all(framer, {"he", "l", "lo wor", "ld\n"}),
            (std::vector<Line>{{"hello world", 0}}));
}

TEST(LineFramer, StripsOneTrailingCarriageReturnOnly) {
  LineFramer framer(100);
  EXPECT_EQ(frame_all(framer, {"telnet\r\n", "two\r\r\n", "\r", "\n", "mid\rdle\n"}),
            (std::vector<Line>{{"telnet", 0}, {"two\r", 0}, {"", 0}, {"mid\rdle", 0}}));
}

TEST(LineFramer, EmptyLinesAreMessages) {
  LineFramer framer(100);
  EXPECT_EQ(frame_all(framer, {"\n\n"}), (std::vector<Line>{{"", 0}, {"", 0}}));
}

TEST(LineFramer, IsNotEmptyWhileALineIsUnfinished) {
  LineFramer framer(100);
  EXPECT_TRUE(framer.empty());
  EXPECT_EQ(frame_all(framer, {"partial"}, false), std::vector<Line>{});
  EXPECT_FALSE(framer.empty());
  EXPECT_EQ(frame_all(framer, {"\n"}, false), (std::vector<Line>{{"partial", 0}}));
  EXPECT_TRUE(framer.empty());
}

TEST(LineFramer, FinishHandsOutTheUnterminatedLastLine) {
  LineFramer framer(100);
  EXPECT_EQ(frame_all(framer, {"one\ntw", "o"}), (std::vector<Line>{{"one", 0}, {"two", 0}}));
  Frame frame;
  EXPECT_FALSE(framer.finish(frame));
}

TEST(LineFramer, OverlongLineIsOneMessageCutToMaxLineWithTheRestCounted) {
  LineFramer framer(4);
  EXPECT_EQ(frame_all(framer, {"abcdefgh\nxy\n"}), (std::vector<Line>{{"abcd", 4}, {"xy", 0}}));
}

TEST(LineFramer, OverlongLineOverManyReadsKeepsBoundedMemoryAndCountsEveryByte) {
  LineFramer framer(8);
  std::vector<std::string> chunks(1000, std::string(1000, 'z'));
  chunks.emplace_back("\r\nnext\n");
  EXPECT_EQ(frame_all(framer, chunks),
            (std::vector<Line>{{"zzzzzzzz", 1000 * 1000 - 8}, {"next", 0}}));
}

TEST(LineFramer, CarriageReturnInTheDroppedPartIsStillLineEnding) {
  LineFramer framer(3);
  EXPECT_EQ(frame_all(framer, {"abcd\r", "\n"}), (std::vector<Line>{{"abc", 1}}));
  EXPECT_EQ(frame_all(framer, {"abc\r\n"}), (std::vector<Line>{{"abc", 0}}));
}

TEST(LineFramer, AppendWithoutDrainingLosesNothing) {
  LineFramer framer(100);
  framer.append("a\nb");
  framer.append("c\n");
  EXPECT_EQ(frame_all(framer, {}), (std::vector<Line>{{"a", 0}, {"bc", 0}}));
}

TEST(LineFramer, EveryByteSplitGivesTheSameLines) {
  const std::string stream = "first\r\nsecond line\n\nlast";
  for (std::size_t max_line : {3u, 6u, 100u}) {
    LineFramer whole(max_line);
    const auto expected = frame_all(whole, {stream});
    for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
      LineFramer split(max_line);
      EXPECT_EQ(frame_all(split, {stream.substr(0, cut), stream.substr(cut)}), expected)
          << "max_line " << max_line << " cut at " << cut;
    }
  }
}

// Cuts stream into reads of at most size bytes, as a server's recv() would.
std::vector<std::string> reads_of(const std::string& stream, std::size_t size) {
  std::vector<std::string> reads;
  for (std::size_t pos = 0; pos < stream.size(); pos += size)
    reads.push_back(stream.substr(pos, size));
  return reads;
}

constexpr std::size_t kMaxLine = 64 * 1024;
constexpr std::size_t kReadSize = 16 * 1024;  // the server's receive buffer

TEST(LineFramer, HoldsAtMostMaxLineWhileALongLineIsUnfinished) {
  for (const std::size_t length : {std::size_t{60'000}, std::size_t{200'000}}) {
    LineFramer framer(kMaxLine);
    EXPECT_EQ(frame_all(framer, reads_of(std::string(length, 'x'), kReadSize), false),
              std::vector<Line>{});
    EXPECT_FALSE(framer.empty());
    // "A few bytes": the inline capacity of the framer's strings.
    EXPECT_LE(framer.memory_held(), kMaxLine + 64) << "unfinished line of " << length << " bytes";
  }
}

TEST(LineFramer, HoldsLittleOnceABurstOfLongLinesIsDelivered) {
  LineFramer framer(kMaxLine);
  const std::string stream = std::string(70'000, 'a') + "\n" + std::string(70'000, 'b') + "\n" +
                             std::string(16 * 1024, '\n');
  const auto lines = frame_all(framer, reads_of(stream, kReadSize), false);
  ASSERT_EQ(lines.size(), 2u + 16 * 1024);
  EXPECT_EQ(lines[0], (Line{std::string(kMaxLine, 'a'), 70'000 - kMaxLine}));
  EXPECT_EQ(lines[1], (Line{std::string(kMaxLine, 'b'), 70'000 - kMaxLine}));
  EXPECT_TRUE(framer.empty());
  EXPECT_LE(framer.memory_held(), 1024u);
}

TEST(LineFramer, ShortLinesSplitOverReadsKeepTheirSmallStorage) {
  LineFramer framer(kMaxLine);
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(frame_all(framer, {"hel", "lo\n"}, false), (std::vector<Line>{{"hello", 0}}));
  }
  EXPECT_LE(framer.memory_held(), 1024u);
}

}  // namespace
}  // namespace tcp_server
