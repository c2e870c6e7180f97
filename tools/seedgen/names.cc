#include "tools/seedgen/names.h"

namespace gridloop::seedgen::internal {
namespace {

constexpr WeightedName kSurnames[] = {
    {"王", 70}, {"陈", 70}, {"张", 60}, {"李", 55}, {"吴", 50}, {"周", 40}, {"徐", 40}, {"朱", 30},
    {"金", 30}, {"胡", 30}, {"沈", 30}, {"杨", 28}, {"黄", 28}, {"潘", 20}, {"何", 20}, {"钱", 18},
    {"方", 18}, {"孙", 18}, {"俞", 16}, {"刘", 22}, {"叶", 16}, {"林", 16}, {"赵", 15}, {"郑", 15},
    {"蒋", 14}, {"汪", 14}, {"姚", 12}, {"陆", 12}, {"邵", 10}, {"许", 12}, {"施", 10}, {"楼", 8},
    {"童", 8},  {"傅", 8},  {"毛", 8},  {"应", 8},  {"洪", 6},  {"韩", 6},  {"高", 8},  {"程", 6},
    {"丁", 6},  {"冯", 6},  {"宋", 6},  {"谢", 6},  {"袁", 5},  {"卢", 5},  {"范", 5},  {"戴", 5},
    {"章", 6},  {"马", 5},  {"鲍", 4},  {"严", 4},  {"夏", 4},  {"虞", 3},  {"裘", 3},  {"娄", 3},
};

constexpr const char* kOldMale[] = {"建国", "国强", "志明", "德明", "福生", "根宝", "金海",
                                    "永康", "文华", "国庆", "建华", "明德", "兴华", "荣根",
                                    "水生", "林生", "宝林", "志刚", "建平", "土根"};
constexpr const char* kOldFemale[] = {"秀英", "桂英", "玉兰", "美华", "凤英", "秀珍", "月娥",
                                      "彩娥", "杏娟", "雪芬", "金花", "素珍", "菊芳", "爱华",
                                      "秀兰", "美娟", "翠娥", "宝娣", "根娣", "月仙"};
constexpr const char* kMiddleMale[] = {
    "伟",   "强",   "军",   "勇",   "杰",   "涛",   "斌",   "磊",   "超",   "鹏",   "建军",
    "海峰", "志强", "晓东", "俊杰", "国伟", "文斌", "建波", "红军", "永强", "立新", "海涛"};
constexpr const char* kMiddleFemale[] = {
    "丽",   "敏",   "静",   "燕",   "霞",   "芳",   "娟", "红", "艳",   "丽华", "晓燕",
    "海燕", "丽萍", "美玲", "雪梅", "红梅", "秀芳", "慧", "琴", "建英", "晓红", "玲"};
constexpr const char* kYoungMale[] = {
    "子轩", "浩然", "宇航", "俊熙", "梓豪", "一鸣", "子豪", "博文", "天佑", "睿",   "浩宇",
    "嘉豪", "明轩", "皓",   "思远", "奕辰", "宇轩", "泽宇", "子墨", "煜",   "亦凡", "沐阳"};
constexpr const char* kYoungFemale[] = {
    "子涵", "欣怡", "梓涵", "一诺", "雨桐", "可馨", "诗涵", "语嫣", "思琪", "梦瑶", "佳怡",
    "婉婷", "雨萱", "若曦", "欣妍", "紫萱", "安琪", "梓萱", "晨曦", "心怡", "依诺", "沐晴"};

constexpr const char* kCommunities[] = {"竞舟社区",   "德加社区",   "益乐社区",   "嘉绿苑社区",
                                        "文鼎苑社区", "紫荆社区",   "和家园社区", "南都社区",
                                        "五联社区",   "骆家庄社区", "金都社区",   "府苑社区"};

constexpr const char* kEstates[] = {"竞舟苑",     "德加公寓", "文鼎苑",   "益乐新村",   "嘉绿苑",
                                    "紫荆花园",   "和家园",   "金都华府", "南都德加",   "五联西苑",
                                    "骆家庄东苑", "古荡新村", "文新花园", "西溪华东园", "竞舟北苑",
                                    "花园新村",   "府苑新村", "嘉绿西苑", "金色家园",   "文华苑",
                                    "学院北苑",   "丰潭新村", "西城年华", "申花苑"};

}  // namespace

absl::Span<const WeightedName> Surnames() { return kSurnames; }

absl::Span<const char* const> GivenNames(Era era, bool male) {
  switch (era) {
    case Era::kOld:
      return male ? absl::Span<const char* const>(kOldMale) : kOldFemale;
    case Era::kMiddle:
      return male ? absl::Span<const char* const>(kMiddleMale) : kMiddleFemale;
    case Era::kYoung:
      break;
  }
  return male ? absl::Span<const char* const>(kYoungMale) : kYoungFemale;
}

absl::Span<const char* const> CommunityNames() { return kCommunities; }

absl::Span<const char* const> EstateNames() { return kEstates; }

}  // namespace gridloop::seedgen::internal
