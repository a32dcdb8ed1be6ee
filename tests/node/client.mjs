// One call through `router serve`, described by a JSON spec in argv[2]; one JSON line per event on stdout:
// {"delta": "..."} while streaming, then {"text": "..."}, or {"error": {...}} (exit status 0 either way).
//
// spec: {client: "ai-sdk" | "openai", baseURL, apiKey, model, prompt, url, mediaType, only?, stream?,
//        videoUrls?: "as-urls" | "download-hook" | "default"}   (the last for the AI SDK only)
import { generateText, streamText, wrapLanguageModel, APICallError } from "ai";
import { createOpenRouter } from "@openrouter/ai-sdk-provider";
import OpenAI from "openai";

const spec = JSON.parse(process.argv[2]);
const emit = (event) => process.stdout.write(JSON.stringify(event) + "\n");

// What docs/clients-frameworks.md tells AI SDK users to write. OpenRouter's provider lists no video URLs among
// the ones it takes (`supportedUrls`), so by default the AI SDK downloads every video URL itself, buffers it and
// sends the bytes: the router would never see the URL. Declaring http(s) video URLs supported sends them as URLs.
const sendVideoUrls = (model) =>
  wrapLanguageModel({
    model,
    middleware: {
      overrideSupportedUrls: async ({ model }) => ({ ...(await model.supportedUrls), "video/*": [/^https?:\/\//] }),
    },
  });

async function aiSdk() {
  const openrouter = createOpenRouter({ baseURL: spec.baseURL, apiKey: spec.apiKey });
  const base = openrouter.chat(spec.model);
  const call = {
    model: spec.videoUrls === "as-urls" ? sendVideoUrls(base) : base,
    maxRetries: 0,
    messages: [
      {
        role: "user",
        content: [
          { type: "text", text: spec.prompt },
          { type: "file", data: new URL(spec.url), mediaType: spec.mediaType },
        ],
      },
    ],
    ...(spec.only ? { providerOptions: { openrouter: { provider: { only: spec.only } } } } : {}),
    // The per-call alternative: null for a URL means "pass it to the model as a URL".
    ...(spec.videoUrls === "download-hook" ? { experimental_download: async (urls) => urls.map(() => null) } : {}),
  };
  if (!spec.stream) {
    emit({ text: (await generateText(call)).text });
    return;
  }
  let failure;
  const result = streamText({ ...call, onError: ({ error }) => (failure = error) });
  let text = "";
  for await (const delta of result.textStream) {
    emit({ delta });
    text += delta;
  }
  if (failure) throw failure;
  emit({ text });
}

async function openai() {
  const client = new OpenAI({ baseURL: spec.baseURL, apiKey: spec.apiKey, maxRetries: 0 });
  const completion = await client.chat.completions.create({
    model: spec.model,
    messages: [
      {
        role: "user",
        content: [
          { type: "text", text: spec.prompt },
          { type: "video_url", video_url: { url: spec.url } },
        ],
      },
    ],
    ...(spec.only ? { provider: { only: spec.only } } : {}),
  });
  emit({ text: completion.choices[0].message.content });
}

try {
  await (spec.client === "openai" ? openai() : aiSdk());
} catch (error) {
  emit({
    error: {
      name: error.name,
      constructor: error.constructor?.name,
      isAPICallError: APICallError.isInstance(error),
      message: error.message,
      statusCode: error.statusCode ?? error.status,
      responseBody: error.responseBody,
      body: error.error,
    },
  });
}
