// Argument checks: every exported function calls these before it touches a value, so a wrong type
// is a TypeError and a wrong value a RangeError, each naming the function and the argument, with
// Node's own codes (ERR_INVALID_ARG_TYPE, ERR_OUT_OF_RANGE).
#include <climits>
#include <cmath>

#include "native.h"

namespace native {

static std::string Describe(const Napi::Value& value) {
  if (value.IsUndefined()) return "undefined";
  if (value.IsNull()) return "null";
  if (value.IsArray()) return "an array";
  if (value.IsTypedArray()) return "a typed array";
  if (value.IsFunction()) return "a function";
  if (value.IsString()) return "a string";
  if (value.IsNumber()) return "the number " + value.ToString().Utf8Value();
  if (value.IsBoolean()) return "a boolean";
  if (value.IsBigInt()) return "a bigint";
  if (value.IsSymbol()) return "a symbol";
  return "an object";
}

void ThrowTypeError(Napi::Env env, const std::string& message) {
  Napi::TypeError error = Napi::TypeError::New(env, message);
  error.Set("code", Napi::String::New(env, "ERR_INVALID_ARG_TYPE"));
  throw error;
}

void ThrowRangeError(Napi::Env env, const std::string& message) {
  Napi::RangeError error = Napi::RangeError::New(env, message);
  error.Set("code", Napi::String::New(env, "ERR_OUT_OF_RANGE"));
  throw error;
}

[[noreturn]] static void WrongType(const Napi::CallbackInfo& info, const char* fn, size_t i,
                                   const char* name, const char* wanted) {
  ThrowTypeError(info.Env(), std::string(fn) + "(): argument '" + name + "' must be " + wanted +
                                 ", got " + Describe(info[i]));
}

void CheckCount(const Napi::CallbackInfo& info, const char* fn, size_t count) {
  if (info.Length() < count) {
    ThrowTypeError(info.Env(), std::string(fn) + "() takes " + std::to_string(count) +
                                   " arguments, got " + std::to_string(info.Length()));
  }
}

int ArgInt(const Napi::CallbackInfo& info, const char* fn, size_t i, const char* name, int64_t min,
           int64_t max) {
  if (!info[i].IsNumber()) WrongType(info, fn, i, name, "an integer");
  double value = info[i].As<Napi::Number>().DoubleValue();
  if (!std::isfinite(value) || std::trunc(value) != value) {
    WrongType(info, fn, i, name, "an integer");
  }
  if (value < static_cast<double>(min) || value > static_cast<double>(max)) {
    ThrowRangeError(info.Env(), std::string(fn) + "(): argument '" + name + "' must be from " +
                                    std::to_string(min) + " to " + std::to_string(max) + ", got " +
                                    info[i].ToString().Utf8Value());
  }
  return static_cast<int>(value);
}

int ArgFd(const Napi::CallbackInfo& info, const char* fn, size_t i) {
  return ArgInt(info, fn, i, "fd", 0, INT_MAX);
}

bool ArgBool(const Napi::CallbackInfo& info, const char* fn, size_t i, const char* name) {
  if (!info[i].IsBoolean()) WrongType(info, fn, i, name, "a boolean");
  return info[i].As<Napi::Boolean>().Value();
}

std::string ArgString(const Napi::CallbackInfo& info, const char* fn, size_t i, const char* name) {
  if (!info[i].IsString()) WrongType(info, fn, i, name, "a string");
  std::string value = info[i].As<Napi::String>().Utf8Value();
  if (value.find('\0') != std::string::npos) {
    ThrowTypeError(info.Env(),
                   std::string(fn) + "(): argument '" + name + "' must not contain NUL bytes");
  }
  return value;
}

Napi::Uint8Array ArgBytes(const Napi::CallbackInfo& info, const char* fn, size_t i,
                          const char* name) {
  if (!info[i].IsTypedArray() ||
      info[i].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    WrongType(info, fn, i, name, "a Uint8Array or Buffer");
  }
  return info[i].As<Napi::Uint8Array>();
}

Napi::Int32Array ArgInt32Array(const Napi::CallbackInfo& info, const char* fn, size_t i,
                               const char* name) {
  if (!info[i].IsTypedArray() ||
      info[i].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
    WrongType(info, fn, i, name, "an Int32Array");
  }
  return info[i].As<Napi::Int32Array>();
}

int ArgTimeoutMs(const Napi::CallbackInfo& info, const char* fn, size_t i) {
  if (!info[i].IsNumber()) WrongType(info, fn, i, "timeoutMs", "a number");
  double value = info[i].As<Napi::Number>().DoubleValue();
  if (std::isnan(value)) WrongType(info, fn, i, "timeoutMs", "a number");
  if (value < 0) return -1;
  return value >= INT_MAX ? INT_MAX : static_cast<int>(std::ceil(value));
}

}  // namespace native
