"""The words of the console's people screens (関係プール and 人物), Japanese first, English beside."""
from __future__ import annotations

from typing import Any

PEOPLE_TEXT: dict[str, dict[str, Any]] = {
    "ja": {
        "pool": "関係プール", "person": "人物", "search": "検索", "q": "氏名・フリガナ・メール・電話番号",
        "q_hint": "氏名とフリガナは前方一致（ひらがな・カタカナ・全角半角・旧字体を区別しません）。メールは完全一致。",
        "tag": "タグ", "role": "役割", "any": "指定なし", "segment": "保存済みセグメント",
        "start": "検索条件を入れてください。", "results": "{n}件", "more": "（続きがあります）",
        "next_page": "次のページ", "first_page": "最初のページへ", "none": "該当する人はいません。",
        "select": "{name} を選択", "selected": "選択した人に", "add_tag": "タグを追加", "remove_tag": "タグを外す",
        "tag_to_apply": "タグ名", "csv": "CSV をダウンロード", "csv_hint": "検索結果（最大 {n} 人）を CSV で保存します。",
        "tagged": "{n}人のタグを変更しました。", "segments_note": "セグメントは条件式で決まるため、人を個別に追加することはできません。",
        "segment_expression": "この検索をセグメントにする条件式: ", "no_name": "（氏名なし）",
        "bad_search": "検索条件を確認してください", "bad_form": "入力を確認してください", "back": "戻る",
        "segment_alone": (
            "このセグメントは複数の条件（OR）または連携元で決まるため、一覧では名前・タグ・"
            "役割のどれかと組み合わせてください。"
        ),
        "name": "氏名", "reading": "フリガナ", "email": "メール", "phone": "電話番号", "locale": "言語",
        "identities": "連携元の ID", "roles": "役割", "tracks": "応募と雇用の経過", "status": "状況", "when": "日付",
        "detail": "段階・理由", "timeline": "経緯", "consents": "同意", "given": "同意あり", "withdrawn": "撤回",
        "text_version": "文面の版", "show_text": "同意の文面を見る", "provisions": "紹介会社への提供記録",
        "provisions_admin": "提供記録は管理者のみ閲覧できます。", "agency": "紹介会社", "provided": "提供日",
        "keep_until": "保存期限", "notices": "送ったお知らせ", "attempts": "試行回数", "tags": "タグ",
        "tags_add": "追加するタグ（読点・カンマ区切りで複数）", "save": "追加", "remove": "外す",
        "merges": "同一人物の候補", "why": "理由", "merge": "この人をこちらに統合", "export": "エクスポート（JSON）",
        "export_hint": "本人からの開示請求に使う、保有している全データです。", "erase": "削除",
        "erase_hint": "削除すると元に戻せません。確認のため、この人の ID（{id}）または「削除」と入力してください。",
        "erase_confirm": "確認の入力", "erase_button": "この人を削除する",
        "erase_wrong": "確認の入力が違います。この人の ID「{id}」または「削除」と入力してください。",
        "erased_title": "削除しました",
        "erased_what": (
            "削除したもの: プロフィール（氏名・連絡先・タグ・同意）、経緯、お知らせ（送信予"
            "定のものも）、ナーチャリングの予定、本人用リンク、検索用の索引、連携元 ID と"
            "の対応、まだ紹介会社へ渡していない紹介。"
        ),
        "erased_kept": (
            "残したもの: 件数の集計（個人を特定しない数値）と、法令で保存が必要な紹介会社へ"
            "の提供記録 {n} 件（最小限の項目のみ、{until} まで）。"
        ),
        "erased_kept_none": "残したもの: 件数の集計（個人を特定しない数値）。紹介会社への提供記録はありません。",
        "erased_also": (
            "ほかに、削除済みの印（ID と日時のみ）と、連携元 ID・メールアドレスのハッシュ値（削除"
            "日時のみ）を残します。これにより、削除前の出来事が再送されても人物は復活しません。紹介会社"
            "がすでに受け取っている場合は、最小限の紹介記録を残し、次回の連携で撤回を伝えます。"
        ),
        "erased_audit": "この操作は監査ログに記録しました。", "to_pool": "関係プールへ",
        "merged_note": "統合されたため、統合先の人物を表示しています。", "no_merges": "候補はありません。",
        "none_yet": "ありません。", "same phone": "電話番号が同じ", "same name and reading": "氏名とフリガナが同じ",
        "not_found": "この人は見つかりません（削除または統合された可能性があります）。",
        "conflict": "この操作はできません", "suppressed": "配信停止中",
    },
    "en": {
        "pool": "People pool", "person": "Person", "search": "Search", "q": "Name, reading, e-mail or phone",
        "q_hint": "Names and readings match from the start (kana, width and old kanji forms fold). E-mail matches exactly.",
        "tag": "Tag", "role": "Role", "any": "any", "segment": "Saved segment",
        "start": "Enter something to search for.", "results": "{n} found", "more": " (more on the next page)",
        "next_page": "Next page", "first_page": "First page", "none": "Nobody matches.",
        "select": "Select {name}", "selected": "For the selected people", "add_tag": "Add the tag",
        "remove_tag": "Remove the tag", "tag_to_apply": "Tag", "csv": "Download CSV",
        "csv_hint": "Saves the results (at most {n} people) as CSV.", "tagged": "Changed the tags of {n} people.",
        "segments_note": "Segments are expressions: people cannot be added to one by hand.",
        "segment_expression": "This search as a segment expression: ", "no_name": "(no name)",
        "bad_search": "Check the search", "bad_form": "Check what you entered", "back": "Back",
        "segment_alone": "This segment is an OR of several terms or read by source: combine it with a name, tag or role.",
        "name": "Name", "reading": "Reading", "email": "E-mail", "phone": "Phone", "locale": "Language",
        "identities": "Source ids", "roles": "Roles", "tracks": "Applications and employment", "status": "Status",
        "when": "Date", "detail": "Stage, reason", "timeline": "Timeline", "consents": "Consents", "given": "given",
        "withdrawn": "withdrawn", "text_version": "Text version", "show_text": "Show the consent text",
        "provisions": "Provision records (what agencies received)", "provisions_admin": "Only administrators see provision records.",
        "agency": "Agency", "provided": "Provided", "keep_until": "Kept until", "notices": "Notices sent",
        "attempts": "Attempts", "tags": "Tags", "tags_add": "Tags to add (comma separated)", "save": "Add",
        "remove": "Remove", "merges": "Possibly the same person", "why": "Why", "merge": "Merge into this person",
        "export": "Export (JSON)", "export_hint": "Everything held about this person, for a disclosure request.",
        "erase": "Erase", "erase_hint": "Erasure cannot be undone. To confirm, type this person's id ({id}) or 削除.",
        "erase_confirm": "Confirmation", "erase_button": "Erase this person",
        "erase_wrong": "The confirmation does not match: type this person's id \u201c{id}\u201d or 削除.",
        "erased_title": "Erased",
        "erased_what": (
            "Erased: the profile (name, contact details, tags, consents), the timeline, notices (pendin"
            "g ones too), nurture schedules, the person's links, search index items, source id links, a"
            "nd referrals no agency had received."
        ),
        "erased_kept": (
            "Kept: the counters (numbers that name nobody) and {n} provision records an agency received"
            ", with their minimum fields, until {until} (a legal obligation)."
        ),
        "erased_kept_none": "Kept: the counters (numbers that name nobody). No agency received this person's data.",
        "erased_also": (
            "Also kept: a marker (the id and the time only) and digests of the source ids and e-mail ad"
            "dress (with the erasure time only), so a replayed old fact does not bring the person back."
            " Where an agency already received them, the minimal referral record stays and the next bat"
            "ch tells the agency of the withdrawal."
        ),
        "erased_audit": "This was written to the audit trail.", "to_pool": "To the people pool",
        "merged_note": "This id was merged: showing the person it was merged into.", "no_merges": "None.",
        "none_yet": "None.", "same phone": "same phone", "same name and reading": "same name and reading",
        "not_found": "No such person (they may have been erased or merged).",
        "conflict": "This cannot be done", "suppressed": "mail suppressed",
    },
}
